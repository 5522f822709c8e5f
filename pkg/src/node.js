// Node.js (and Deno) entry: the module read from the package folder, compiled
// once per process on first use.
import { readFileSync } from 'node:fs';

import { Engine } from './engine.js';
import { makeHandler } from './handler.js';

export * from './api.js';

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
