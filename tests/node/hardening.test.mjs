// What a careless or hostile caller of the package gets (from a fresh-eyes
// review): option mistakes fail createHandler, argument mistakes are
// SessattrErrors, odd stores and paths are handled like the host does, and
// many writers on one session all get through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { SessattrError, createHandler, memoryStore } from '../../pkg/src/node.js';
import { createHandler as portableHandler } from '../../pkg/src/portable.js';

const CHEAP = { m_cost: 64, t_cost: 1, p_cost: 1 };
const KEY = { id: 'k1', key: Buffer.alloc(32, 3).toString('base64'), state: 'primary' };

async function world(options = {}) {
  const store = options.store ?? memoryStore();
  const handler = createHandler({ store, keys: [KEY], argon2: CHEAP, ...options });
  await handler.users.add({ username: 'admin', password: 'admin-pw-1', superUser: true });
  const { ust } = await handler.sessions.login({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' });
  return { handler, store, on: { current_ust: ust, target_ust: ust, current_app: 'CRM' } };
}

test('createHandler refuses bad options with a TypeError, as the host refuses bad settings', () => {
  const store = memoryStore();
  const bad = [
    { apps: 'CRM' }, { apps: [] }, { apps: null }, { apps: ['a,b'] },
    { limits: null }, { limits: { value_max_bytes: -1 } }, { limits: { value_max_bytes: 1.5 } },
    { limits: { value_max_bytes: '10' } }, { limits: { body_max_bytes: NaN } }, { limits: { body_max_bytes: Infinity } },
    { limits: { bogus: 1 } }, { limits: { value_max_bytes: 2 ** 40 } },
    { sessionLifetime: 0 }, { sessionLifetime: -1 }, { sessionLifetime: '3600' }, { sessionLifetime: 1e12 },
    { argon2: 'x' }, { argon2: { m_cost: 19456, t_cost: 2000, p_cost: 1 } }, { argon2: { m_cost: 1, t_cost: 0, p_cost: 0 } },
    { keys: [{ ...KEY, key: ` ${KEY.key}` }] }, { keys: [{ ...KEY, key: KEY.key.replace(/=+$/, '') }] },
    { keys: [{ ...KEY, id: 'x'.repeat(100_000) }] }, { keys: [KEY, { ...KEY, id: 'k2' }] },
    { sesionLifetime: 60 }, { store: {} }, { apps: [' '] }, { apps: [' CRM'] },
  ];
  for (const options of bad) {
    assert.throws(() => createHandler({ store, ...options }), TypeError, JSON.stringify(options).slice(0, 80));
  }
  assert.doesNotThrow(() => createHandler({ store, keys: { keys: [KEY] }, sessionLifetime: 315_360_000 }));
  // Key material pasted into `id` is never in the message.
  const pasted = { id: KEY.key, key: 'k1', state: 'primary' };
  assert.throws(() => createHandler({ store, keys: [pasted] }), (err) => err instanceof TypeError && !err.message.includes(KEY.key));
});

test('arguments of the wrong type are SessattrErrors (E008002 / E008003), never plain errors', async () => {
  const { handler, on } = await world();
  const refusals = [
    [() => handler.users.add({ username: 'bob' }), 'E008003'],
    [() => handler.users.add({ username: 'bob', password: 42 }), 'E008002'],
    [() => handler.users.add({ username: 'bob', password: 'pw-bob-1', superUser: 'yes' }), 'E008002'],
    [() => handler.users.add(), 'E008003'],
    [() => handler.users.remove(), 'E008003'],
    [() => handler.attrs.create({ ...on, name: 'n', value: 'v', expiration: NaN }), 'E008002'],
    [() => handler.attrs.create({ ...on, name: 'n', value: 'v', expiration: Infinity }), 'E008002'],
    [() => handler.attrs.create(null), 'E008002'],
    [() => { const loop = { ...on, name: 'n', value: 'v' }; loop.self = loop; return handler.attrs.create(loop); }, 'E008002'],
  ];
  for (const [call, code] of refusals) {
    await assert.rejects(call(), (err) => err instanceof SessattrError && err.code === code, String(call));
  }
  assert.deepEqual(await handler.attrs.names(on), { result: [] }, 'nothing was written');
});

test('operations apply the body limit: fields over it are refused with 413 E008002', async () => {
  const { handler, on } = await world({ limits: { body_max_bytes: 4096, value_max_bytes: 65536 } });
  await assert.rejects(handler.attrs.create({ ...on, name: 'big', value: 'x'.repeat(5000) }), (err) => err.code === 'E008002' && err.httpStatus === 413);
  assert.deepEqual(await handler.attrs.create({ ...on, name: 'small', value: 'x'.repeat(100) }), {});
});

test('a store answering the wrong shape is a failing store: 503 E008004, nothing claimed as written', async () => {
  const inner = memoryStore();
  const { handler, on } = await world({ store: inner });
  const shapes = [
    { apply: async () => 'false' },
    { apply: async () => undefined },
    { get: async (keys) => keys.map(() => 42) },
    { get: async () => [] },
  ];
  for (const override of shapes) {
    const store = { get: (k) => inner.get(k), scan: (p) => inner.scan(p), apply: (o) => inner.apply(o), ...override };
    const odd = createHandler({ store, keys: [KEY], argon2: CHEAP });
    await assert.rejects(odd.attrs.set({ ...on, name: 'n', value: 'v' }), (err) => err.code === 'E008004' && err.httpStatus === 503 && err.cause instanceof TypeError);
  }
  assert.deepEqual(await handler.attrs.names(on), { result: [] });
});

test('60 concurrent creates of different names on one session all land; 60 of one name give exactly one', async () => {
  const { handler, on } = await world();
  const many = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => handler.attrs.create({ ...on, name: `n${i}`, value: 'v' })));
  assert.equal(many.filter((r) => r.status === 'fulfilled').length, 60, JSON.stringify(many.find((r) => r.status === 'rejected')?.reason?.code));
  assert.equal((await handler.attrs.names(on)).result.length, 60);
  const one = await Promise.allSettled(Array.from({ length: 60 }, () => handler.attrs.create({ ...on, name: 'once', value: 'v' })));
  assert.equal(one.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(one.filter((r) => r.status === 'rejected').every((r) => r.reason.code === 'E009001'));
});

test('handle() takes the path as sent: no dot-segment, %2e or backslash resolution (as the host)', async () => {
  const { handler, on } = await world();
  const body = JSON.stringify({ ...on, name: 'n', value: 'v' });
  for (const path of ['/zato/sso/session/../session/attr', '/zato/sso/x/%2e%2e/session/attr', '/zato/./sso/session/attr', '/zato/sso/session\\attr']) {
    const answer = await handler.handle({ method: 'POST', url: path, body });
    assert.equal(answer.status, 404, path);
    assert.equal(JSON.parse(answer.body).sub_status[0], 'E008001', path);
  }
  const absolute = await handler.handle({ method: 'POST', url: 'http://any.host/zato/sso/session/attr?x=1', body });
  assert.equal(absolute.status, 200);
  assert.deepEqual((await handler.attrs.names(on)).result, ['n']);
  await assert.rejects(handler.handle({}), TypeError);
  await assert.rejects(handler.handle({ method: 'POST', url: '/', body: { not: 'bytes' } }), TypeError);
});

test('handle() records remoteAddress, never a client-sent cf-connecting-ip', async () => {
  const { handler } = await world();
  const login = await handler.handle({
    method: 'POST', url: '/zato/sso/user/login', remoteAddress: '10.1.2.3',
    headers: { 'cf-connecting-ip': '6.6.6.6' },
    body: JSON.stringify({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' }),
  });
  const { ust } = JSON.parse(login.body);
  const details = await handler.sessions.get({ current_ust: ust, target_ust: ust, current_app: 'CRM' });
  assert.equal(details.remote_addr, '10.1.2.3');
});

test('sessattr/portable with a module that fails to compile fails each call, without an unhandled rejection', async () => {
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const errors = [];
    const handler = portableHandler({ store: memoryStore(), module: new Uint8Array([0, 1, 2]), onError: (e) => errors.push(e) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const answer = await handler.fetch(new Request('http://x/zato/sso/session/attr/names', { method: 'GET' }));
    assert.equal(answer.status, 500);
    assert.deepEqual((await answer.json()).sub_status, ['E008004']);
    assert.ok(errors[0] instanceof WebAssembly.CompileError);
    const good = portableHandler({ store: memoryStore(), module: readFileSync(new URL('../../pkg/dist/node/sessattr_wasm_bg.wasm', import.meta.url)) });
    assert.equal((await good.fetch(new Request('http://x/nope'))).status, 404);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
});

test('a login under new argon2 costs rehashes the password in its own write, then logs in', async () => {
  const store = memoryStore();
  const before = createHandler({ store, keys: [KEY], argon2: CHEAP });
  await before.users.add({ username: 'carol', password: 'carol-pw-1' });
  const [oldHash] = await store.get(['sa:user:carol']);
  const applied = [];
  const watched = { ...store, get: store.get, scan: store.scan, apply: async (ops) => (applied.push(ops), store.apply(ops)) };
  const after = createHandler({ store: watched, keys: [KEY], argon2: { ...CHEAP, t_cost: 2 } });
  const { ust } = await after.sessions.login({ username: 'carol', password: 'carol-pw-1', current_app: 'CRM' });
  assert.match(ust, /^[A-Za-z0-9_-]{22,}$/);
  // Two write sets, one hash tag each: the user's new hash, then the session.
  assert.deepEqual(applied.map((ops) => ops.map((op) => op.key.slice(0, 5))), [['sa:us'], ['sa:s:']]);
  const [newHash] = await store.get(['sa:user:carol']);
  assert.notEqual(newHash, oldHash);
  assert.match(newHash, /t=2/);
  await after.sessions.login({ username: 'carol', password: 'carol-pw-1', current_app: 'CRM' });
  assert.equal(applied.length, 3, 'no second rehash');
});
