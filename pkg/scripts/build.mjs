// Builds what the package ships besides its sources: the CommonJS entry for
// `require('sessattr')` in Node.js and its type declarations. Run by
// `cargo xtask build` after the module is in dist/ (or `npm run build`).
import { copyFile, mkdir } from 'node:fs/promises';

import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
await mkdir(new URL('cjs/', root), { recursive: true });

await build({
  entryPoints: [new URL('src/node.js', root).pathname],
  outfile: new URL('cjs/node.cjs', root).pathname,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The ESM sources find the module with `import.meta.url`; in the bundle,
  // which sits one folder below the package root as src/node.js does, that
  // is this file's own URL.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
await copyFile(new URL('types/index.d.ts', root), new URL('cjs/index.d.cts', root));
