// `sessattr/portable`: the same API, with the module handed in.
import type { Handler, HandlerOptions } from './index.js';

export * from './index.js';

/** What the module may be given as. */
export type ModuleSource =
  | WebAssembly.Module
  | BufferSource
  | Response
  | Promise<WebAssembly.Module | BufferSource | Response>;

/** A handler over `options.store`, running `options.module`. */
export declare function createHandler(options: HandlerOptions & { module: ModuleSource }): Handler;
