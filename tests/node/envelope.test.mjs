// The fixed envelope vectors of tests/vectors/envelope.json, read by the
// WebAssembly module in Node.js (the npm package's raw-ABI engine):
//
// * every session-scope vector's envelope, stored as the core stores an
//   encrypted attribute of that session and name, is opened to its
//   plaintext — and answers E008004, the same answer as a corrupted
//   envelope, when it is put under another name or in another session;
// * the vector with a `step` is sealed by the module byte for byte as the
//   native core sealed it (same seed, same now, same request).
//
// The records are made by hand, as core/src/store/layout.rs and record.rs
// lay them out (no login: the vectors' USTs are fixed). The user-scope
// vector is checked by the core only: no operation of the module has user
// attributes yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { Engine, base64 } from '../../pkg/src/engine.js';
import { createHandler } from '../../pkg/src/node.js';
import { memoryStore } from '../../pkg/src/stores.js';

const { vectors } = JSON.parse(readFileSync(new URL('../vectors/envelope.json', import.meta.url), 'utf8'));
const sessionVectors = vectors.filter((v) => v.aad.scope === 'session');
const WASM = new URL('../../pkg/dist/node/sessattr_wasm_bg.wasm', import.meta.url);

const ATTR = '/zato/sso/session/attr';
/** The fixed time of every request here (the step vector's `now`). */
const NOW = vectors.find((v) => v.step).step.now;
const HOUR = 3_600_000_000;
/** The owner of the vectors' session (the step vector's `session_owner`). */
const OWNER = vectors.find((v) => v.step).step.session_owner;
/** A second session of the same owner, where no vector belongs. */
const OTHER_UST = 'TEST-ONLY-vector-session-B-not-a-real-token';

/** The session id of a UST (core/src/ust.rs). */
const sessionId = (ust) => createHash('sha256').update('sessattr-ust-v1\0').update(ust).digest('hex');

const userRecord = () => ({
  key: `sa:user:${OWNER.username}`,
  value: JSON.stringify({
    v: 1,
    user_id: OWNER.user_id,
    username: OWNER.username,
    password_hash: 'not-a-hash: the vectors never log in',
    is_super_user: OWNER.is_super_user,
    is_locked: false,
    creation_time: NOW,
    session_epoch: 0,
  }),
  expires_at: null,
});

const sessionRecord = (ust) => ({
  key: `sa:s:{${sessionId(ust)}}`,
  value: JSON.stringify({
    v: 1,
    user_id: OWNER.user_id,
    username: OWNER.username,
    current_app: 'CRM',
    creation_time: NOW,
    expiration_time: NOW + HOUR,
    remote_addr: '',
    user_agent: '',
    user_epoch: 0,
  }),
  expires_at: NOW + HOUR,
});

/** The index record of a session holding the encrypted attributes `names`. */
const indexRecord = (ust, names) => ({
  key: `sa:i:{${sessionId(ust)}}`,
  value: JSON.stringify({ v: 1, a: Object.fromEntries(names.map((name) => [name, [NOW, null, true]])) }),
  expires_at: NOW + HOUR,
});

/**
 * The record of encrypted attribute `name` of the session of `ust`, holding
 * `envelope`; `recordName` is the name written inside the record (another
 * one only to copy a record verbatim under another name's key).
 */
const attrRecord = (ust, name, envelope, recordName = name) => ({
  key: `sa:a:{${sessionId(ust)}}:${name}`,
  value: JSON.stringify({
    v: 1,
    name: recordName,
    value: envelope,
    is_encrypted: true,
    creation_time: NOW,
    last_modified: NOW,
    expiration_time: null,
  }),
  expires_at: NOW + HOUR,
});

/**
 * A memory store holding the vectors' user and two sessions of theirs, with
 * `attrs` (`[ust, name, envelope, recordName?]`) as encrypted attributes
 * (see `attrRecord`), and a handler
 * over it at the fixed time with `keys`.
 */
async function world(keys, attrs) {
  const store = memoryStore({ now: () => NOW });
  const records = [userRecord(), sessionRecord(sessionVectors[0].ust), sessionRecord(OTHER_UST)];
  for (const ust of new Set(attrs.map(([ust]) => ust))) {
    records.push(indexRecord(ust, attrs.filter(([u]) => u === ust).map(([, name]) => name)));
  }
  for (const [ust, name, envelope, recordName] of attrs) records.push(attrRecord(ust, name, envelope, recordName));
  assert.equal(await store.importRecords({ format: 'sessattr-records', version: 1, records }), records.length);
  const handler = createHandler({ store, keys, clock: () => NOW });
  /** A get by the owner (a super-user) of attribute `name` of the session of `target`. */
  const get = async (target, name, extra = {}) => {
    const fields = { current_app: 'CRM', current_ust: sessionVectors[0].ust, target_ust: target, name, ...extra };
    const answer = await handler.handle({ method: 'GET', url: ATTR, headers: {}, body: JSON.stringify(fields) });
    const { cid, ...body } = JSON.parse(answer.body);
    assert.match(cid, /^[0-9a-f]{24}$/);
    return { status: answer.status, body };
  };
  return { get };
}

const primary = (v) => [{ id: v.key_id, key: v.key, state: 'primary' }];
/** Another key, primary, so that the vector's own key can be decrypt-only or retired. */
const OTHER_KEY = { id: 'k-other', key: Buffer.alloc(32, 0xee).toString('base64'), state: 'primary' };

/** Flips the lowest bit of the last byte of an envelope (inside the GCM tag). */
function corrupt(envelope) {
  const bytes = Buffer.from(envelope, 'base64url');
  bytes[bytes.length - 1] ^= 1;
  return bytes.toString('base64url');
}

test('the vectors are what this test expects: session ones reachable through their UST', () => {
  assert.ok(sessionVectors.length >= 4);
  for (const v of sessionVectors) {
    assert.equal(v.ust, sessionVectors[0].ust, `${v.description}: one session for all`);
    assert.equal(sessionId(v.ust), v.aad.owner, `${v.description}: owner is the UST's session id`);
  }
  assert.notEqual(sessionId(OTHER_UST), sessionVectors[0].aad.owner);
});

for (const v of sessionVectors) {
  test(`vector "${v.description}": the module opens it in its place, with a primary or decrypt-only key`, async () => {
    for (const keys of [primary(v), [{ ...primary(v)[0], state: 'decrypt-only' }, OTHER_KEY]]) {
      const { get } = await world(keys, [[v.ust, v.aad.name, v.envelope]]);
      const clear = await get(v.ust, v.aad.name);
      assert.equal(clear.status, 200, JSON.stringify(clear.body));
      assert.deepEqual(
        [clear.body.found, clear.body.name, clear.body.value, clear.body.is_encrypted],
        [true, v.aad.name, v.plaintext, true],
      );
      const stored = await get(v.ust, v.aad.name, { decrypt: false });
      assert.equal(stored.body.value, v.envelope, 'decrypt=false answers the envelope as stored');
    }
  });

  test(`vector "${v.description}": moved to another name or session, it fails exactly like a corrupted one (E008004)`, async () => {
    const moved = `${v.aad.name}-moved`;
    const { get } = await world(primary(v), [
      [v.ust, moved, v.envelope],
      [OTHER_UST, v.aad.name, v.envelope],
      [v.ust, v.aad.name, corrupt(v.envelope)],
    ]);
    const corrupted = await get(v.ust, v.aad.name);
    assert.equal(corrupted.status, 403);
    assert.deepEqual(corrupted.body.sub_status, ['E008004']);
    assert.equal(corrupted.body.status, 'error');
    assert.deepEqual(await get(v.ust, moved), corrupted, 'another attribute name');
    assert.deepEqual(await get(OTHER_UST, v.aad.name), corrupted, 'another session');
    assert.ok(!JSON.stringify(corrupted.body).includes(v.envelope.slice(0, 20)), 'the answer does not echo the envelope');
  });

  test(`vector "${v.description}": a retired key or other key bytes under its id open nothing (E008004)`, async () => {
    const retired = await world([{ ...primary(v)[0], state: 'retired' }, OTHER_KEY], [[v.ust, v.aad.name, v.envelope]]);
    const impostor = await world([{ ...primary(v)[0], key: OTHER_KEY.key }], [[v.ust, v.aad.name, v.envelope]]);
    const corrupted = await (await world(primary(v), [[v.ust, v.aad.name, corrupt(v.envelope)]])).get(v.ust, v.aad.name);
    assert.deepEqual(await retired.get(v.ust, v.aad.name), corrupted);
    assert.deepEqual(await impostor.get(v.ust, v.aad.name), corrupted);
  });
}

// A store attacker who copies a whole attribute record (its `name` field
// included) under another name's key: the core refuses a record whose own
// name is not the one it is stored under, exactly as a corrupted envelope.
test(
  'a whole record copied under another name\'s key fails like a corrupted one (E008004)',
  async () => {
    const v = sessionVectors[0];
    const copy = `${v.aad.name}-copy`;
    const { get } = await world(primary(v), [
      [v.ust, copy, v.envelope, v.aad.name],
      [v.ust, v.aad.name, corrupt(v.envelope)],
    ]);
    assert.deepEqual(await get(v.ust, copy), await get(v.ust, v.aad.name));
  },
);

test('the module seals the step vector byte for byte as the native core does (same seed, now and request)', () => {
  const steps = vectors.filter((v) => v.step);
  assert.ok(steps.length > 0);
  const engine = new Engine(new WebAssembly.Module(readFileSync(WASM)));
  for (const v of steps) {
    const store = new Map([userRecord(), sessionRecord(v.ust)].map(({ key, value }) => [key, value]));
    const input = {
      config: { keys: primary(v) },
      op: {
        http: {
          method: v.step.method,
          path: v.step.path,
          query: '',
          body: base64(new TextEncoder().encode(v.step.body)),
          remote_addr: '',
          user_agent: '',
        },
      },
      now: v.step.now,
      seed: v.step.seed,
      records: {},
      scans: {},
    };
    let done;
    for (let round = 0; round < 32 && !done; round++) {
      const out = engine.step(input);
      assert.ok(!out.rejected, out.rejected);
      done = out.done;
      for (const key of out.need?.get ?? []) input.records[key] = store.get(key) ?? null;
      for (const prefix of out.need?.scan ?? []) {
        input.scans[prefix] = [...store].filter(([key]) => key.startsWith(prefix)).sort();
      }
    }
    assert.ok(done, 'a decision');
    assert.equal(done.response.status, 200, done.response.body);
    const key = `sa:a:{${sessionId(v.ust)}}:${v.aad.name}`;
    const put = done.writes.ops.find((op) => op.key === key);
    assert.ok(put?.action?.put, `a put of ${key}`);
    const record = JSON.parse(put.action.put.value);
    assert.equal(record.is_encrypted, true);
    assert.equal(record.value, v.envelope);
    const bytes = Buffer.from(record.value, 'base64url');
    assert.equal(bytes.subarray(2 + v.key_id.length, 14 + v.key_id.length).toString('hex'), v.nonce, 'the nonce the seed gives');
  }
});
