// The whole attribute API through the JavaScript face: set, update, get
// (clear and as stored), exists, names and delete, with the same answers the
// host gives (the conformance suite pins those over HTTP).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { http, run, testConfig } from './driver.mjs';

const ATTR = '/zato/sso/session/attr';

/** A store with a super-user and a user logged in, and a `call` helper. */
function world() {
  const store = new Map();
  const config = testConfig();
  const call = (op) => {
    const { response, writes } = run(store, op, { config });
    return { status: response.status, body: JSON.parse(response.body), writes };
  };
  const ust = {};
  for (const [username, is_super_user] of [['admin', true], ['alice', false]]) {
    const password = `pw-of-${username}-123`;
    assert.equal(call({ user_add: { username, password, is_super_user } }).status, 200);
    const login = call(http('POST', '/zato/sso/user/login', { username, password, current_app: 'CRM' }));
    assert.equal(login.status, 200, JSON.stringify(login.body));
    ust[username] = login.body.ust;
  }
  const base = { current_ust: ust.admin, target_ust: ust.alice, current_app: 'CRM' };
  return { store, call, base };
}

test('set, update, get, exists, names and delete', () => {
  const { call, base } = world();
  const ok = (answer) => {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'ok');
    return answer.body;
  };

  ok(call(http('PUT', ATTR, { ...base, name: 'color', value: 'blue sky', encrypt: true })));
  ok(call(http('PATCH', ATTR, { ...base, name: 'color', value: 'red sky' })));
  const missing = call(http('PATCH', ATTR, { ...base, name: 'nope', value: 'v' }));
  assert.equal(missing.status, 403);
  assert.deepEqual(missing.body.sub_status, ['E009002']);

  const clear = ok(call(http('GET', ATTR, {}, query({ ...base, name: 'color' }))));
  assert.equal(clear.found, true);
  assert.equal(clear.value, 'red sky');
  assert.equal(clear.is_encrypted, true, 'update keeps the encryption');
  assert.match(clear.creation_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  assert.equal(clear.expiration_time, '9999-12-31T00:00:00.000000');

  const stored = ok(call(http('GET', ATTR, { ...base, name: 'color', decrypt: false })));
  assert.notEqual(stored.value, 'red sky');
  assert.match(stored.value, /^[A-Za-z0-9_-]{42,}$/);

  ok(call(http('PUT', ATTR, { ...base, data: [{ name: 'b', value: '2' }, { name: 'a', value: '1' }] })));
  const many = ok(call(http('GET', ATTR, {}, query({ ...base }, ['a', 'zz']))));
  assert.equal(many.result.a.value, '1');
  assert.equal(many.result.zz, null);
  const exists = ok(call(http('GET', `${ATTR}/exists`, {}, query({ ...base }, ['a', 'zz']))));
  assert.deepEqual(exists.result, { a: true, zz: false });
  assert.deepEqual(ok(call(http('GET', `${ATTR}/names`, {}, query(base)))).result, ['a', 'b', 'color']);

  ok(call(http('DELETE', ATTR, {}, query({ ...base }, ['a', 'never']))));
  assert.deepEqual(ok(call(http('GET', `${ATTR}/names`, base))).result, ['b', 'color']);
});

test('a many-form write whose 7th item is invalid writes nothing and names item 6', () => {
  const { store, call, base } = world();
  const data = Array.from({ length: 8 }, (_, i) => ({ name: `m${i}`, value: `v${i}` }));
  data[6] = { name: 'm6' };
  const before = new Map(store);
  const answer = call(http('PUT', ATTR, { ...base, data }));
  assert.equal(answer.status, 403);
  assert.deepEqual(answer.body.sub_status, ['E008003']);
  assert.equal(answer.body.item, 6);
  assert.deepEqual(store, before);
});

/** A query string of `fields` plus one `data=` per name. */
function query(fields, names = []) {
  const params = new URLSearchParams(fields);
  for (const name of names) params.append('data', name);
  return params.toString();
}
