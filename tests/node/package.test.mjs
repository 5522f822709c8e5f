// The npm package's first faces: createHandler().fetch serving the REST API
// over memoryStore() through the same raw ABI the native host uses, the
// operations as async functions, and SessattrError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ABI_VERSION, SessattrError, createHandler, memoryStore } from '../../pkg/src/node.js';

const BASE = 'http://sessattr.test';
const ATTR = `${BASE}/zato/sso/session/attr`;
const CHEAP = { m_cost: 64, t_cost: 1, p_cost: 1 };

function key() {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
}

async function setup() {
  const store = memoryStore();
  const handler = createHandler({
    store,
    keys: [{ id: 'k1', key: key(), state: 'primary' }],
    argon2: CHEAP,
  });
  await handler.users.add({ username: 'admin', password: 'admin-pw-1', superUser: true });
  await handler.users.add({ username: 'alice', password: 'alice-pw-1' });
  const login = async (username, password) =>
    (await handler.sessions.login({ username, password, current_app: 'CRM' })).ust;
  return { store, handler, admin: await login('admin', 'admin-pw-1'), alice: await login('alice', 'alice-pw-1') };
}

const post = (url, body) =>
  new Request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

test('the package speaks the ABI of the module it ships', async () => {
  const bytes = readFileSync(new URL('../../pkg/dist/node/sessattr_wasm_bg.wasm', import.meta.url));
  const { instance } = await WebAssembly.instantiate(bytes, stubImports(await WebAssembly.compile(bytes)));
  assert.equal(instance.exports.sessattr_abi_version(), ABI_VERSION);
  assert.equal(ABI_VERSION, 5);
});

/** Every import of `module` as a function that throws (the ABI calls none). */
function stubImports(module) {
  const imports = {};
  for (const { module: from, name } of WebAssembly.Module.imports(module)) {
    (imports[from] ??= {})[name] = () => {
      throw new Error(`import ${name} called`);
    };
  }
  return imports;
}

test("fetch answers the seed's create, then E009001, like the host", async () => {
  const { handler, admin, alice } = await setup();
  const seed = {
    current_ust: admin, target_ust: alice, current_app: 'CRM',
    name: 'my-rest-attribute', value: 'my-rest-value', encrypt: true, expiration: 3600,
  };
  const first = await handler.fetch(post(ATTR, seed));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('content-type'), 'application/json');
  const body = await first.json();
  assert.deepEqual(Object.keys(body).sort(), ['cid', 'status']);
  assert.match(body.cid, /^[0-9a-f]{24}$/);

  const again = await handler.fetch(post(ATTR, seed));
  assert.equal(again.status, 403);
  assert.deepEqual((await again.json()).sub_status, ['E009001']);

  const query = new URLSearchParams({ current_ust: admin, target_ust: alice, current_app: 'CRM', name: 'my-rest-attribute' });
  const got = await (await handler.fetch(new Request(`${ATTR}?${query}`))).json();
  assert.equal(got.value, 'my-rest-value');
  assert.equal(got.is_encrypted, true);

  const wrong = await handler.fetch(new Request(ATTR, { method: 'OPTIONS' }));
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'GET, POST, PUT, PATCH, DELETE');
  const big = await handler.fetch(post(ATTR, { pad: 'x'.repeat(1 << 20) }));
  assert.equal(big.status, 413);
});

test('the operations resolve to result fields or throw SessattrError without values', async () => {
  const { handler, admin, alice } = await setup();
  const on = { current_ust: admin, target_ust: alice, current_app: 'CRM' };
  assert.deepEqual(await handler.attrs.set({ ...on, name: 'a', value: 'secret value 1', encrypt: true }), {});
  assert.equal((await handler.attrs.get({ ...on, name: 'a' })).value, 'secret value 1');
  assert.deepEqual((await handler.attrs.names(on)).result, ['a']);
  await assert.rejects(handler.attrs.update({ ...on, name: 'nope', value: 'secret value 2' }), (err) => {
    assert.ok(err instanceof SessattrError);
    assert.equal(err.code, 'E009002');
    assert.equal(err.httpStatus, 403);
    assert.ok(!err.message.includes('secret value'), err.message);
    return true;
  });
  await assert.rejects(
    handler.attrs.create({ ...on, data: [{ name: 'b', value: '1' }, { name: 'c' }] }),
    (err) => err.code === 'E008003' && err.item === 1,
  );
  await handler.users.lock({ username: 'alice' });
  await assert.rejects(handler.attrs.names(on), (err) => err.code === 'E007001');
  const verified = await handler.sessions.verify(on);
  assert.equal(verified.is_valid, false);
});

test('64 concurrent creates of one name: exactly one wins, over an async store', async () => {
  const { handler, admin, alice } = await setup();
  const body = { current_ust: admin, target_ust: alice, current_app: 'CRM', name: 'once', value: 'v' };
  const answers = await Promise.all(Array.from({ length: 64 }, () => handler.fetch(post(ATTR, body))));
  const codes = await Promise.all(answers.map(async (a) => (a.status === 200 ? 'ok' : (await a.json()).sub_status[0])));
  assert.equal(codes.filter((c) => c === 'ok').length, 1);
  assert.equal(codes.filter((c) => c === 'E009001').length, 63);
});

/** A store that works until `broken.now` is set, then fails every call. */
function breakable(inner) {
  const broken = { now: false, calls: 0 };
  const guard = (name) => async (...args) => {
    if (broken.now) {
      broken.calls++;
      throw new Error(`disk on fire (${name})`);
    }
    return inner[name](...args);
  };
  return { broken, store: { get: guard('get'), scan: guard('scan'), apply: guard('apply') } };
}

test('a failing store answers 503 E008004 as the host does, hands the cause to onError, and writes nothing', async () => {
  const { broken, store } = breakable(memoryStore());
  const errors = [];
  const handler = createHandler({ store, keys: [{ id: 'k1', key: key(), state: 'primary' }], argon2: CHEAP, onError: (e) => errors.push(e) });
  await handler.users.add({ username: 'admin', password: 'admin-pw-1', superUser: true });
  const { ust } = await handler.sessions.login({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' });
  const on = { current_ust: ust, target_ust: ust, current_app: 'CRM' };

  broken.now = true;
  const answer = await handler.fetch(post(ATTR, { ...on, name: 'n', value: 'secret value 3' }));
  assert.equal(answer.status, 503);
  const body = await answer.json();
  assert.deepEqual(body.sub_status, ['E008004']);
  assert.equal(body.message, 'the store is unavailable; nothing was written');
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof SessattrError);
  assert.match(errors[0].cause.message, /disk on fire/);
  await assert.rejects(handler.attrs.get({ ...on, name: 'n' }), (err) => err.code === 'E008004' && err.httpStatus === 503);
  assert.ok(broken.calls >= 2);

  broken.now = false;
  assert.deepEqual(await handler.attrs.exists({ ...on, name: 'n' }), { result: false });
});

test('a request body that breaks half way answers 400 E008002 and writes nothing', async () => {
  const { handler, store, admin, alice } = await setup();
  const before = store.size;
  let sent = false;
  const body = new ReadableStream({
    pull(controller) {
      if (sent) return controller.error(new Error('connection reset'));
      sent = true;
      controller.enqueue(new TextEncoder().encode(`{"current_ust":"${admin}","target_ust":"${alice}",`));
    },
  });
  const answer = await handler.fetch(new Request(ATTR, { method: 'POST', body, duplex: 'half' }));
  assert.equal(answer.status, 400);
  assert.deepEqual((await answer.json()).sub_status, ['E008002']);
  assert.equal(store.size, before);
});
