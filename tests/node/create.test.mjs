// The JavaScript face of the module: users, logins and an encrypted attribute
// create, driven through the step protocol against an in-memory Map.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ABI_VERSION } from '../../pkg/src/engine.js';
import { base64, http, run, testConfig, wasm } from './driver.mjs';

test('the JS face speaks the ABI version the package speaks (5)', () => {
  assert.equal(wasm.abiVersion(), ABI_VERSION);
  assert.equal(ABI_VERSION, 5);
});

test('a super-user creates an encrypted attribute on a user session, once', () => {
  const store = new Map();
  const config = testConfig();
  const call = (op) => {
    const { response, writes } = run(store, op, { config });
    return { status: response.status, body: JSON.parse(response.body), writes };
  };

  for (const [username, is_super_user] of [['admin', true], ['alice', false]]) {
    const added = call({ user_add: { username, password: `pw-of-${username}-123`, is_super_user } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.body.status, 'ok');
  }

  const login = (username) => {
    const body = { username, password: `pw-of-${username}-123`, current_app: 'CRM' };
    const res = call(http('POST', '/zato/sso/user/login', body));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'ok');
    assert.equal(typeof res.body.ust, 'string');
    return res.body.ust;
  };
  const adminUst = login('admin');
  const aliceUst = login('alice');
  assert.notEqual(adminUst, aliceUst);

  const secret = `plaintext-${base64(crypto.getRandomValues(new Uint8Array(12)))}`;
  const create = http('POST', '/zato/sso/session/attr', {
    current_ust: adminUst,
    target_ust: aliceUst,
    current_app: 'CRM',
    name: 'color',
    value: secret,
    encrypt: true,
  });

  const created = call(create);
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.deepEqual(Object.keys(created.body).sort(), ['cid', 'status']);
  assert.equal(created.body.status, 'ok');
  assert.match(created.body.cid, /^[0-9a-f]{24}$/);

  // Create is put-if-absent: the new record is in the store, as written.
  const puts = created.writes.ops.filter((op) => op.action?.put && op.expect === 'absent');
  assert.ok(puts.length >= 1, `no put-if-absent in ${JSON.stringify(created.writes)}`);
  for (const { key, action } of puts) assert.equal(store.get(key), action.put.value);

  const snapshot = new Map(store);
  const again = call(create);
  assert.equal(again.status, 403, JSON.stringify(again.body));
  assert.equal(again.body.status, 'error');
  assert.deepEqual(again.body.sub_status, ['E009001']);
  assert.match(again.body.cid, /^[0-9a-f]{24}$/);
  assert.deepEqual(store, snapshot, 'a failed create wrote something');

  // Encrypted at rest: neither the value nor its base64 forms are stored anywhere.
  const forms = [secret, base64(secret), Buffer.from(secret).toString('base64url')];
  for (const [key, value] of store) {
    for (const form of forms) {
      assert.ok(!key.includes(form), `key ${key} holds the plaintext`);
      assert.ok(!value.includes(form), `record ${key} holds the plaintext`);
    }
  }
});
