// workersKvStore inside a real Workers KV implementation: the example worker
// (built from the packed package) under Miniflare, which runs it in workerd
// with a local KV namespace bound as SESSATTR_KV.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { buildWorker, importDev } from './support.mjs';

const { Miniflare } = await importDev('miniflare');
const project = buildWorker();
const passwords = { admin: randomBytes(12).toString('hex'), alice: randomBytes(12).toString('hex') };
const mf = new Miniflare({
  modules: [
    { type: 'ESModule', path: join(project, 'dist/worker.js') },
    { type: 'CompiledWasm', path: join(project, 'dist/sessattr_wasm_bg.wasm') },
  ],
  modulesRoot: join(project, 'dist'),
  compatibilityDate: '2026-07-01',
  kvNamespaces: ['SESSATTR_KV'],
  bindings: {
    SESSATTR_KEYS: JSON.stringify({ keys: [{ id: 'k-kv', key: randomBytes(32).toString('base64'), state: 'primary' }] }),
    SESSATTR_USERS: JSON.stringify([
      { username: 'admin', password: passwords.admin, superUser: true },
      { username: 'alice', password: passwords.alice },
    ]),
  },
});
after(() => mf.dispose());

const call = async (method, path, body) => {
  const response = await mf.dispatchFetch(`http://worker.test${path}`, { method, body: body && JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
};
const login = async (username) =>
  (await call('POST', '/zato/sso/user/login', { username, password: passwords[username], current_app: 'CRM' })).body.ust;
const query = (fields) => `?${new URLSearchParams(fields)}`;

test('the worker keeps users, sessions and attributes in KV, and answers as the host does', async () => {
  const [admin, alice] = [await login('admin'), await login('alice')];
  assert.equal(typeof admin, 'string');
  const on = { current_ust: admin, target_ust: alice, current_app: 'CRM' };
  const seed = { ...on, name: 'my-rest-attribute', value: 'my-rest-value', encrypt: true, expiration: 3600 };
  assert.deepEqual((await call('POST', '/zato/sso/session/attr', seed)).body.status, 'ok');
  const again = await call('POST', '/zato/sso/session/attr', seed);
  assert.deepEqual([again.status, again.body.sub_status], [403, ['E009001']]);
  const got = await call('GET', `/zato/sso/session/attr${query({ ...on, name: 'my-rest-attribute' })}`);
  assert.deepEqual([got.body.value, got.body.is_encrypted], ['my-rest-value', true]);

  const kv = await mf.getKVNamespace('SESSATTR_KV');
  const { keys } = await kv.list({ prefix: 'sa:' });
  const names = keys.map((k) => k.name);
  assert.ok(names.includes('sa:user:admin') && names.includes('sa:user:alice'), 'users are in KV');
  const attr = keys.find((k) => k.name.startsWith('sa:a:') && k.name.endsWith(':my-rest-attribute'));
  assert.ok(attr, 'the attribute is in KV');
  const nowSecs = Date.now() / 1000;
  assert.ok(attr.expiration > nowSecs + 3500 && attr.expiration < nowSecs + 3700, `KV expiration ${attr.expiration}`);
  const stored = await kv.get(attr.name);
  assert.ok(!stored.includes('my-rest-value'), 'the value is sealed in KV');
});

test('expiry shorter than KV allows (60 s) is still enforced on read', async () => {
  const [admin, alice] = [await login('admin'), await login('alice')];
  const on = { current_ust: admin, target_ust: alice, current_app: 'CRM' };
  assert.equal((await call('POST', '/zato/sso/session/attr', { ...on, name: 'brief', value: 'v', expiration: 1 })).status, 200);
  const kv = await mf.getKVNamespace('SESSATTR_KV');
  const entry = (await kv.list({ prefix: 'sa:a:' })).keys.find((k) => k.name.endsWith(':brief'));
  assert.ok(entry.expiration >= Date.now() / 1000 + 55, 'KV got its 60 s minimum, not 1 s');
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const gone = await call('GET', `/zato/sso/session/attr${query({ ...on, name: 'brief' })}`);
  assert.deepEqual(gone.body.found, false);
  const exists = await call('GET', `/zato/sso/session/attr/exists${query({ ...on, name: 'brief' })}`);
  assert.equal(exists.body.result, false);
});

test('logout removes the session and its attributes from KV', async () => {
  const [admin, alice] = [await login('admin'), await login('alice')];
  const on = { current_ust: admin, target_ust: alice, current_app: 'CRM' };
  await call('PUT', '/zato/sso/session/attr', { ...on, data: [{ name: 'x', value: '1' }, { name: 'y', value: '2' }] });
  const kv = await mf.getKVNamespace('SESSATTR_KV');
  const before = (await kv.list({ prefix: 'sa:' })).keys.length;
  assert.equal((await call('POST', '/zato/sso/user/logout', { ust: alice, current_app: 'CRM' })).status, 200);
  const after = (await kv.list({ prefix: 'sa:' })).keys.length;
  assert.equal(before - after, 4, 'the session, its index and its two attributes are gone');
  const names = await call('GET', `/zato/sso/session/attr/names${query(on)}`);
  assert.deepEqual(names.body.sub_status, ['E007001']);
});
