// Loads the wasm package served at /pkg/ and shows its version.
const out = document.getElementById('version');

try {
  const { version } = await import('/pkg/entry-browser.js');
  out.textContent = `v${version()}`;
  out.dataset.ready = 'true';
} catch (e) {
  out.textContent = `failed to load: ${e.message}`;
  out.className = 'error';
  console.error(e);
}
