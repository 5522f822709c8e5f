// The README's Node.js quick start: `node quickstart.mjs` in a project that
// has `npm install sessattr`.
import { randomBytes } from 'node:crypto';

import { SessattrError, createHandler, memoryStore } from 'sessattr';

const handler = createHandler({
  store: memoryStore(),
  keys: [{ id: 'k1', key: randomBytes(32).toString('base64'), state: 'primary' }],
});

// A super-user for the application, and an end user whose session it serves.
await handler.users.add({ username: 'crm-app', password: 'crm-app-password-1', superUser: true });
await handler.users.add({ username: 'alice', password: 'alice-password-1' });
const login = async (username, password) =>
  (await handler.sessions.login({ username, password, current_app: 'CRM' })).ust;
const target = {
  current_ust: await login('crm-app', 'crm-app-password-1'),
  target_ust: await login('alice', 'alice-password-1'),
  current_app: 'CRM',
};

await handler.attrs.create({ ...target, name: 'my-rest-attribute', value: 'my-rest-value', encrypt: true, expiration: 3600 });
const attr = await handler.attrs.get({ ...target, name: 'my-rest-attribute' });
console.log(`${attr.name} = ${attr.value} (encrypted: ${attr.is_encrypted})`);

try {
  await handler.attrs.create({ ...target, name: 'my-rest-attribute', value: 'again' });
} catch (err) {
  if (!(err instanceof SessattrError)) throw err;
  console.log(`second create refused: ${err.code} (HTTP ${err.httpStatus})`);
}
