// The demo page's own script: what an app around `<import-uploader>` does.
// The element does the import; the page only listens to its events (here:
// a log, and the page title when a job ends).

const uploader = document.querySelector('import-uploader');
const log = document.getElementById('log');

function note(text) {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  log.prepend(item);
  while (log.children.length > 50) log.lastElementChild.remove();
}

uploader.addEventListener('import-uploader:file', (e) => note(`file: ${e.detail.name} (${e.detail.size} bytes)`));
uploader.addEventListener('import-uploader:mapping', (e) => note(`mapping: ${JSON.stringify(e.detail.fieldMap)}`));
uploader.addEventListener('import-uploader:status', (e) => note(`job ${e.detail.jobId}: ${e.detail.state} (${e.detail.stage})`));
uploader.addEventListener('import-uploader:done', (e) => {
  note(`done: ${e.detail.validRows} of ${e.detail.readRows} rows imported`);
  document.title = `${e.detail.state}: import-uploader demo`;
});
uploader.addEventListener('import-uploader:error', (e) => note(`error: ${e.detail.code ?? ''} ${e.detail.message}`));
