// Cloudflare workerd entry: the module imported as a compiled
// `WebAssembly.Module` — what wrangler's default `CompiledWasm` rule and a
// workerd config's `wasm = embed "…"` module both give. Workers may not
// compile wasm from bytes at run time, so this entry never does.
import module from '../dist/node/sessattr_wasm_bg.wasm';

import { Engine } from './engine.js';
import { makeHandler } from './handler.js';

export * from './api.js';

let engine;

/** A handler over `options.store` (see handler.js). */
export function createHandler(options) {
  engine ??= new Engine(module);
  return makeHandler(engine, options);
}
