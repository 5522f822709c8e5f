// Node.js entry: the module read from the package folder.
import { readFileSync } from 'node:fs';

import { Engine } from './engine.js';
import { makeHandler } from './handler.js';

export { SessattrError } from './errors.js';
export { memoryStore, workersKvStore } from './stores.js';
export { ABI_VERSION } from './engine.js';

const WASM = new URL('../dist/node/sessattr_wasm_bg.wasm', import.meta.url);

let engine;
function shared() {
  engine ??= new Engine(new WebAssembly.Module(readFileSync(WASM)));
  return engine;
}

/** A handler over `options.store` (see handler.js). */
export function createHandler(options) {
  return makeHandler(shared(), options);
}
