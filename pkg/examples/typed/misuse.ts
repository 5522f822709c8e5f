// Must NOT type-check: the tests assert that tsc rejects each line marked
// below, so that the declarations are not `any` in disguise.
import { createHandler, memoryStore } from 'sessattr';

const handler = createHandler({ store: memoryStore() });
const target = { current_ust: 'a', target_ust: 'b', current_app: 'CRM' };

await handler.attrs.create({ ...target, name: 'n', value: 42 }); // error: value is a string
await handler.attrs.create({ ...target, name: 'n', value: 'v', data: [] }); // error: name and data
createHandler({ store: memoryStore(), keys: [{ id: 'k', key: 'x', state: 'secondary' }] }); // error: state
const found: boolean = (await handler.attrs.exists({ ...target, data: ['a'] })).result; // error: a record
