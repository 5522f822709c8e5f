// Compiles the module from whatever a runtime has of it.
import { Engine } from './engine.js';

/**
 * An Engine from a `WebAssembly.Module`, bytes (`ArrayBuffer` or a view), a
 * `Response` of them, or a promise of any of these.
 */
export async function loadEngine(source) {
  let module = await source;
  if (typeof Response !== 'undefined' && module instanceof Response) {
    if (!module.ok) throw new Error(`sessattr: fetching the module answered HTTP ${module.status}`);
    module = await module.arrayBuffer();
  }
  if (!(module instanceof WebAssembly.Module)) module = await WebAssembly.compile(module);
  return new Engine(module);
}
