// Hostile input that only the JS face can receive (issue 10; the shared
// battery is tests/cases/hostile.json, played against this handler by
// conformance.test.mjs): JS strings that are not Unicode text (lone
// surrogates, which bytes on a wire can never be), a 10 MiB query string
// (no HTTP server in front to refuse it), 10 MiB bodies and a 64 KiB
// User-Agent. Each gets its SPEC answer, never a 500, and nothing is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { SessattrError, createHandler, memoryStore } from '../../pkg/src/node.js';

const CHEAP = { m_cost: 64, t_cost: 1, p_cost: 1 };
const KEY = { id: 'k1', key: Buffer.alloc(32, 9).toString('base64'), state: 'primary' };
const ATTR = '/zato/sso/session/attr';
const MIB = 1 << 20;

async function world() {
  const handler = createHandler({ store: memoryStore(), keys: [KEY], argon2: CHEAP });
  await handler.users.add({ username: 'admin', password: 'admin-pw-1', superUser: true });
  const { ust } = await handler.sessions.login({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' });
  const on = { current_ust: ust, target_ust: ust, current_app: 'CRM' };
  const query = new URLSearchParams(on).toString();
  return { handler, on, query };
}

/** A `handle` answer with its body parsed. */
async function handle(handler, request) {
  const answer = await handler.handle({ headers: {}, ...request });
  return { status: answer.status, body: JSON.parse(answer.body) };
}

function assertError({ status, body }, http, code) {
  assert.equal(status, http, JSON.stringify(body));
  assert.deepEqual(body.sub_status, [code], JSON.stringify(body));
}

test('lone surrogates handed to handle() are refused or replaced, never a 500', async () => {
  const { handler, on, query } = await world();
  assertError(await handle(handler, { method: 'GET', url: `${ATTR}?${query}&name=a\ud800b` }), 403, 'E008002');
  assertError(await handle(handler, { method: 'GET', url: `${ATTR}?${query}&data=ok&data=\udc00` }), 403, 'E008002');
  assertError(await handle(handler, { method: 'GET', url: `${ATTR}?${query}&x\udbff=1` }), 403, 'E008002');
  assertError(await handle(handler, { method: 'GET', url: `${ATTR}\ud800?${query}` }), 404, 'E008001');
  assertError(await handle(handler, { method: 'GET\ud800', url: `${ATTR}?${query}` }), 405, 'E008001');
  // A string body is text: a lone surrogate in it is not UTF-8, so not JSON.
  const body = JSON.stringify({ ...on, name: 'n', value: 'v' }).replace('"n"', '"n\ud800"');
  assertError(await handle(handler, { method: 'POST', url: ATTR, body }), 400, 'E008002');
  const value = JSON.stringify({ ...on, name: 'n', value: 'v' }).replace('"v"', '"\udfff"');
  assertError(await handle(handler, { method: 'PUT', url: ATTR, body: value }), 400, 'E008002');
  assert.deepEqual(await handler.attrs.names(on), { result: [] }, 'nothing was written');

  // Headers and the remote address are recorded with U+FFFD, as the host
  // reads header bytes that are not UTF-8.
  const login = await handle(handler, {
    method: 'POST',
    url: '/zato/sso/user/login',
    headers: { 'user-agent': 'agent\ud800' },
    remoteAddress: '10.0.0.1\udc00',
    body: JSON.stringify({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' }),
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const details = await handler.sessions.get({ ...on, target_ust: login.body.ust });
  assert.equal(details.user_agent, 'agent\ufffd');
  assert.equal(details.remote_addr, '10.0.0.1\ufffd');

  // The operations API: a lone surrogate is JSON-escaped, and the module
  // refuses the escape (not JSON) — an E008002 SessattrError either way.
  await assert.rejects(handler.attrs.create({ ...on, name: '\ud800', value: 'v' }), (err) => err instanceof SessattrError && err.code === 'E008002');
  for (const user of [{ username: 'x\ud800', password: 'pw-123456' }, { username: 'bob', password: 'pw\udc00' }]) {
    await assert.rejects(handler.users.add(user), (err) => err instanceof SessattrError && err.code === 'E008002', JSON.stringify(user));
  }
  assert.equal((await handler.users.list()).users.length, 1, 'no user was added');
});

test('header values that are not strings are read as text', async () => {
  const { handler, on } = await world();
  const body = JSON.stringify({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' });
  for (const [agent, recorded] of [[5, '5'], [['first', 'second'], 'first'], [null, '']]) {
    const login = await handle(handler, { method: 'POST', url: '/zato/sso/user/login', headers: { 'user-agent': agent }, body });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const details = await handler.sessions.get({ ...on, target_ust: login.body.ust });
    assert.equal(details.user_agent, recorded);
  }
});

test('a 10 MiB query string, 10 MiB bodies and a 10 MiB value are refused; nothing is written', async () => {
  const { handler, on, query } = await world();
  const x = 'x'.repeat(10 * MIB);
  assertError(await handle(handler, { method: 'GET', url: `${ATTR}?${query}&name=${x}` }), 403, 'E008002');
  assertError(await handle(handler, { method: 'DELETE', url: `${ATTR}?${query}${'&data=x'.repeat(100_000)}` }), 403, 'E008002');
  const names = await handle(handler, { method: 'GET', url: `${ATTR}/names?${query}&${'u=1&'.repeat(100_000)}` });
  assert.equal(names.status, 200, '100 000 unknown parameters are ignored');

  const big = JSON.stringify({ ...on, name: 'big', value: x });
  const fetched = await handler.fetch(new Request(`http://sessattr${ATTR}`, { method: 'POST', body: big }));
  assert.equal(fetched.status, 413);
  assert.deepEqual((await fetched.json()).sub_status, ['E008002']);
  assertError(await handle(handler, { method: 'PUT', url: ATTR, body: big }), 413, 'E008002');
  assertError(await handle(handler, { method: 'PUT', url: ATTR, body: Buffer.from(big) }), 413, 'E008002');
  assertError(await handle(handler, { method: 'PUT', url: ATTR, headers: { 'content-length': String(10 * MIB) }, body: '{}' }), 413, 'E008002');
  await assert.rejects(handler.attrs.create({ ...on, name: 'big', value: x }), (err) => err.code === 'E008002' && err.httpStatus === 413);
  assert.deepEqual(await handler.attrs.names(on), { result: [] }, 'nothing was written');
  assert.deepEqual(await handler.attrs.create({ ...on, name: 'after', value: 'v' }), {}, 'the handler still works');
});

test('a 64 KiB User-Agent logs in, and the session records 512 bytes of it', async () => {
  const { handler, on } = await world();
  const request = new Request('http://sessattr/zato/sso/user/login', {
    method: 'POST',
    headers: { 'user-agent': 'A'.repeat(64 * 1024) },
    body: JSON.stringify({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' }),
  });
  const answer = await handler.fetch(request);
  assert.equal(answer.status, 200);
  const { ust } = await answer.json();
  const details = await handler.sessions.get({ ...on, target_ust: ust });
  assert.equal(details.user_agent, 'A'.repeat(512));
  // A multi-byte character is never cut in half.
  const accented = await handle(handler, {
    method: 'POST',
    url: '/zato/sso/user/login',
    headers: { 'user-agent': `A${'é'.repeat(1000)}` },
    body: JSON.stringify({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' }),
  });
  const cut = await handler.sessions.get({ ...on, target_ust: accented.body.ust });
  assert.equal(cut.user_agent, `A${'é'.repeat(255)}`);
});
