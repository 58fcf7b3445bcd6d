// The benchmark pages' measure of how long their main thread is held at
// once: the largest delay of a timer set to fire every `everyMs`.
// `timerLag(everyMs)` starts it; the function it answers stops it and
// answers that delay in milliseconds.

export function timerLag(everyMs) {
  let lag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - everyMs);
    last = now;
  }, everyMs);
  return () => {
    clearInterval(timer);
    return lag;
  };
}
