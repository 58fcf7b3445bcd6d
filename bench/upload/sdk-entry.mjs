// What a page imports from @azure/storage-blob to upload a Blob to a SAS
// URL; `cargo xtask bench upload` bundles this with esbuild (browser,
// minified) and reports the bundle's gzip size as the SDK's code size.
export { BlockBlobClient } from '@azure/storage-blob';
