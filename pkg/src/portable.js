// `sessattr/portable`: for runtimes the package has no entry for (or to run
// another build of the module): the caller hands the module in.
import { loadEngine } from './load.js';
import { makeHandler } from './handler.js';

export * from './api.js';

/**
 * A handler like the default entry's, over the module given as
 * `options.module`: a `WebAssembly.Module`, the module's bytes, a `Response`
 * of them, or a promise of any of these. It is compiled once per handler.
 */
export function createHandler({ module, ...options }) {
  if (module === undefined) throw new TypeError('sessattr/portable: createHandler needs a module');
  const engine = loadEngine(module);
  // A module that fails to load fails each operation (fetch answers 500
  // E008004 and tells onError); it must not be an unhandled rejection.
  engine.catch(() => {});
  return makeHandler(engine, options);
}
