// Rollup with its usual plugins for a browser app: node-resolve finds the
// package in node_modules (with the `browser` condition), and
// import-meta-assets emits the files that `new URL('…', import.meta.url)`
// names (the package's .wasm).
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { importMetaAssets } from '@web/rollup-plugin-import-meta-assets';

export default {
  input: 'src/main.js',
  output: { dir: 'dist', format: 'es' },
  plugins: [nodeResolve({ browser: true }), importMetaAssets()],
};
