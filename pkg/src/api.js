// What every entry point exports besides its own `createHandler`.
export { SessattrError } from './errors.js';
export { memoryStore, workersKvStore } from './stores.js';
export { ABI_VERSION } from './engine.js';
