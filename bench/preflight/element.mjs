// The element's page of `cargo xtask bench preflight` (`element.html`):
// `<import-uploader>` from the package (`/pkg/element.js`), talking to the
// emulator's API directly (it plays the broker here: the ticket is the
// emulator's read-only development token). The file is the generated CSV
// chosen through the file input; the page drops it on the element as a
// user would (a `drop` event carrying it) and times the drop → preview.
//
// `window.bench.run({ method })`:
//
// * `preview`: the drop, with no drag before it;
// * `preview-dragenter-N`: a drag enters the drop zone (the element starts
//   loading the preflight), the drop N ms later (100: a very quick user;
//   300: a quick one).
//
// Answers `{ previewMs, previewRows, delimiter }`: the time from the drop
// to the document holding the preview table's rows and the detected
// dialect, then to the next frame (`previewFrameMs`); and `timerLagMs`,
// the longest the main thread was held at once meanwhile.

import '/pkg/element.js';
import { timerLag } from './timer-lag.mjs';

const element = document.querySelector('import-uploader');
element.getTicket = async () => 'dev-read';
let file = null;

function dropZone() {
  return element.shadowRoot.querySelector('[part~=dropzone]');
}

function preview() {
  const root = element.shadowRoot;
  const rows = root.querySelectorAll('table.preview tbody tr').length;
  const detected = root.querySelector('[id$="-detected"]');
  return rows > 0 && detected ? { rows, detected: detected.textContent } : null;
}

async function ready() {
  const t = performance.now();
  while (!(element.dataset.ready === 'true' && dropZone())) {
    if (performance.now() - t > 30_000) throw new Error('the element did not load its object schema within 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function dragEvent(type) {
  const dataTransfer = new DataTransfer();
  dataTransfer.items.add(file);
  return new DragEvent(type, { dataTransfer, bubbles: true, cancelable: true, composed: true });
}

window.bench = {
  useFile() {
    file = document.getElementById('file').files[0];
    return { size: file.size };
  },
  async run({ method }) {
    await ready();
    const gap = /^preview-dragenter-(\d+)$/.exec(method);
    if (gap) {
      dropZone().dispatchEvent(dragEvent('dragenter'));
      await new Promise((r) => setTimeout(r, Number(gap[1])));
    }
    const shown = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no preview within 60 s: ${element.shadowRoot.querySelector('[role=status]')?.textContent ?? ''}`)), 60_000);
      const observer = new MutationObserver(() => {
        const p = preview();
        if (!p) return;
        const at = performance.now();
        observer.disconnect();
        clearTimeout(timer);
        requestAnimationFrame(() => resolve({ ...p, at, frameAt: performance.now() }));
      });
      observer.observe(element.shadowRoot, { childList: true, subtree: true, characterData: true });
    });
    // How long the main thread is held at once between the drop and the
    // preview (the preview's sample is read on the page): the largest
    // delay of a 5 ms timer.
    const stopLag = timerLag(5);
    let lag;
    const t = performance.now();
    dropZone().dispatchEvent(dragEvent('drop'));
    let p;
    try {
      p = await shown;
    } finally {
      lag = stopLag();
    }
    return { previewMs: p.at - t, previewFrameMs: p.frameAt - t, previewRows: p.rows, detected: p.detected, timerLagMs: lag };
  },
};
document.getElementById('state').textContent = 'ready';
