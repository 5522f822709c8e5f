// Browser and bundler entry: the module fetched next to this file (bundlers
// such as Vite and webpack 5 see `new URL(…, import.meta.url)` and ship the
// file) and compiled on first use; every operation awaits it.
import { loadEngine } from './load.js';
import { makeHandler } from './handler.js';

export * from './api.js';

const WASM = new URL('../dist/node/sessattr_wasm_bg.wasm', import.meta.url);

let engine;
function shared() {
  engine ??= loadEngine(fetch(WASM)).catch((err) => {
    engine = undefined; // let the next call try again
    throw err;
  });
  return engine;
}

/** A handler over `options.store` (see handler.js). */
export function createHandler(options) {
  return makeHandler(shared(), options);
}
