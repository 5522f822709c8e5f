// The typed use from CommonJS: resolves `require('sessattr')`'s declarations.
import { type Handler, createHandler, memoryStore } from 'sessattr';

export const handler: Handler = createHandler({ store: memoryStore() });
