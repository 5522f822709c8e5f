// The step loop's encodings and step input (pkg/src/encoding.js, engine.js)
// against slow references that are obviously right: the package's base64
// (the runtime's encoder where it has one, the portable `btoa` path
// elsewhere) against the package's first, spread-and-btoa one and Node's
// Buffer; utf8() against TextEncoder.encode; the incrementally written
// StepInput text against JSON.stringify of the objects the loop used to
// build, down to the byte; and seeds (drawn ahead from one
// getRandomValues call) all different and well formed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { base64 as packageBase64, portableBase64, utf8 } from '../../pkg/src/encoding.js';
import { Engine, StepInput, base64, freshSeed } from '../../pkg/src/engine.js';
import { createHandler } from '../../pkg/src/node.js';
import { makeHandler } from '../../pkg/src/handler.js';
import { memoryStore } from '../../pkg/src/stores.js';

const WASM = new URL('../../pkg/dist/node/sessattr_wasm_bg.wasm', import.meta.url);

/** The package's first base64: obviously right, and slow. */
function referenceBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Inputs of edge lengths (padding 0/1/2, the portable path's chunk edges), every byte value, random bytes up to 1 MiB. */
function samples() {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const out = [0, 1, 2, 3, 4, 5, 0x7fff, 0x8000, 0x8001, 0x10000, 3 * 0x8000 + 2].map((n) => [`${n} random bytes`, new Uint8Array(randomBytes(n))]);
  out.push(['every byte value', all], ['1 MiB random bytes', new Uint8Array(randomBytes(1 << 20))]);
  out.push(['non-ASCII UTF-8', new TextEncoder().encode('é€😀 — ü\u0000\uffff "quoted" \\ back')]);
  // A view into the middle of a larger buffer: only its own bytes are encoded.
  const big = new Uint8Array(randomBytes(100));
  out.push(['a view at an offset', big.subarray(7, 50)]);
  return out;
}

test('base64 gives the reference answer (and Buffer’s) on edge lengths, every byte value, views and 1 MiB', () => {
  assert.equal(base64, packageBase64, 'engine.js re-exports encoding.js’s base64');
  for (const [what, bytes] of samples()) {
    const expected = referenceBase64(bytes);
    assert.equal(expected, Buffer.from(bytes).toString('base64'), `${what}: the reference agrees with Buffer`);
    assert.equal(base64(bytes), expected, `${what}: base64`);
    assert.equal(portableBase64(bytes), expected, `${what}: portableBase64`);
    assert.deepEqual(new Uint8Array(Buffer.from(base64(bytes), 'base64')), new Uint8Array(bytes), `${what}: decodes back`);
  }
});

test('base64 in Node.js is the runtime’s own encoder, not the portable path', () => {
  // The fast path is feature-detected and self-checked at load; losing it
  // would still be correct, only slow — this test makes it visible.
  assert.notEqual(base64, portableBase64);
});

test('utf8 gives TextEncoder’s bytes: ASCII, non-ASCII, lone surrogates, both sides of the reused buffer’s limit', async () => {
  const encoder = new TextEncoder();
  const texts = ['', 'a', 'plain ASCII {"json": 1}', 'é€😀', '\ud800 lone \udfff surrogates \ud83d', 'x'.repeat(5000)];
  for (const units of [(1 << 18) - 1, 1 << 18, (1 << 18) + 1]) texts.push('😀'.repeat(units >> 1) + (units & 1 ? 'z' : ''));
  texts.push('€'.repeat(1 << 18), 'ä'.repeat((1 << 18) + 1));
  for (const text of texts) {
    assert.deepEqual(new Uint8Array(utf8(text)), encoder.encode(text), `${text.length} units`);
  }
  // A fresh copy of the module, its reused buffer not grown yet: every call
  // needs more room than the last, at 3 bytes a unit (the most there is).
  const fresh = await import(`../../pkg/src/encoding.js?fresh=${Date.now()}`);
  for (const units of [1, 1000, 1500, 5000, 20_000, 100_000, 1 << 18]) {
    const text = '€'.repeat(units);
    assert.deepEqual(new Uint8Array(fresh.utf8(text)), encoder.encode(text), `a fresh buffer, ${units} × €`);
  }
  // The bytes of a short text are a view the next call reuses: a copy taken
  // first stays right.
  const first = new Uint8Array(utf8('first é'));
  utf8('second, longer 😀😀😀');
  assert.deepEqual(first, encoder.encode('first é'));
});

/** The step input as the loop built it before StepInput: one object, stringified whole. */
function objectInput(config, op, now, seed) {
  return { config, op, now, seed, records: {}, scans: {} };
}

test('StepInput writes exactly JSON.stringify of the accumulated input, whatever is added in whatever order', () => {
  const config = { apps: ['CRM'], keys: [{ id: 'k1', key: base64(new Uint8Array(32)), state: 'primary' }], limits: {}, session_lifetime_secs: 3600 };
  const op = { http: { method: 'POST', path: '/zato/sso/session/attr', query: '', body: base64(new TextEncoder().encode('{"a":"é"}')), body_too_large: false, remote_addr: '', user_agent: 'ü/1' } };
  // Keys of every kind: the module's, non-ASCII and escaped ones, a key seen
  // twice, array-index keys (JSON.stringify writes those first), `__proto__`
  // (which an assignment does not add), digits that are not an index.
  const keys = ['sa:s:{abc}', 'sa:user:bob', 'sa:a:{abc}:é"\\\n', 'sa:s:{abc}', '7', '0', '01', '4294967295', '__proto__', 'sa:i:{abc}', '', 'toJSON'];
  const values = ['{"v":1}', null, 'é€😀 "q" \\ \u0001', 'changed', 'seven', 'zero', null, 'big', 'proto', '{}', 'empty', 'not a function'];
  // A value whose toJSON is given its member's key (as a scan's entries
  // could be, were Array.prototype.toJSON defined).
  keys.push('sa:scan-with-toJSON');
  values.push(Object.assign([['sa:k', 'r']], { toJSON: (key) => `entries of ${key}` }));
  for (let order = 0; order < 20; order++) {
    const seed = freshSeed();
    const expected = objectInput(config, op, 1_796_324_400_000_000, seed);
    const input = new StepInput(config, op, 1_796_324_400_000_000, seed);
    assert.equal(input.json(), JSON.stringify(expected), 'before any record');
    // A different interleaving of records and scans each round.
    const picks = keys.map((key, i) => [key, values[i]]).sort(() => (order === 0 ? 0 : Math.random() - 0.5));
    for (const [i, [key, value]] of picks.entries()) {
      if (i % 3 === 2 || Array.isArray(value)) {
        const entries = Array.isArray(value) ? value : [[`${key}:x`, value ?? 'r'], [`${key}:y`, 'é']];
        expected.scans[key] = entries;
        input.scan(key, entries);
      } else {
        expected.records[key] = value;
        input.record(key, value);
      }
      assert.equal(input.json(), JSON.stringify(expected), `after ${i + 1} additions (round ${order})`);
    }
  }
});

test('StepInput writes the head and values with toJSON as JSON.stringify does, absent fields left out', () => {
  for (const now of [0, -1, 1.5, Number.NaN, null, undefined]) {
    const input = new StepInput({ apps: ['CRM'] }, { user_list: {} }, now, 'c2VlZA==');
    input.record('sa:user:x', null);
    const expected = objectInput({ apps: ['CRM'] }, { user_list: {} }, now, 'c2VlZA==');
    expected.records['sa:user:x'] = null;
    assert.equal(input.json(), JSON.stringify(expected), `now ${now}`);
  }
  // The toJSON of a first member's value, given the member's key.
  const entries = Object.assign([['sa:k', 'r']], { toJSON: (key) => `entries of ${key}` });
  const scanned = new StepInput({}, {}, 0, 's');
  scanned.scan('sa:p', entries);
  const expected = objectInput({}, {}, 0, 's');
  expected.scans['sa:p'] = entries;
  assert.equal(scanned.json(), JSON.stringify(expected), 'a value with toJSON');
  const empty = new StepInput(undefined, undefined, undefined, undefined);
  assert.equal(empty.json(), JSON.stringify(objectInput(undefined, undefined, undefined, undefined)), 'every head field left out');
  assert.throws(() => new StepInput({}, {}, 1n, 's'), TypeError, 'a BigInt clock fails as JSON.stringify fails');
});

test('seeds are base64 of 32 bytes, all different, across many refills of the pool', () => {
  const seeds = new Set();
  for (let i = 0; i < 1000; i++) {
    const seed = freshSeed();
    assert.match(seed, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(seed, 'base64').length, 32);
    seeds.add(seed);
  }
  assert.equal(seeds.size, 1000);
});

/**
 * A handler whose engine records every step input the module receives, as
 * the module receives it (read back from its memory).
 */
function recordingHandler(store) {
  const engine = new Engine(new WebAssembly.Module(readFileSync(WASM)));
  const inputs = [];
  const configurations = [];
  const real = engine.exports;
  const text = (ptr, len) => new TextDecoder().decode(new Uint8Array(real.memory.buffer, ptr, len));
  engine.exports = {
    memory: real.memory,
    sessattr_abi_version: real.sessattr_abi_version,
    sessattr_alloc: real.sessattr_alloc,
    sessattr_free: real.sessattr_free,
    sessattr_step: (ptr, len) => {
      inputs.push(text(ptr, len));
      return real.sessattr_step(ptr, len);
    },
    sessattr_configure: (ptr, len) => {
      configurations.push(text(ptr, len));
      return real.sessattr_configure(ptr, len);
    },
  };
  const keys = [{ id: 'k1', key: randomBytes(32).toString('base64'), state: 'primary' }];
  const handler = makeHandler(engine, { store, keys, argon2: { m_cost: 8, t_cost: 1, p_cost: 1 } });
  return { handler, inputs, configurations };
}

test('the module receives JSON.stringify’s text of the accumulated input at every step of real operations', async () => {
  const store = memoryStore();
  const { handler, inputs, configurations } = recordingHandler(store);
  await handler.users.add({ username: 'app', password: 'app-password-1', superUser: true });
  await handler.users.add({ username: 'bob', password: 'bob-password-1' });
  const login = async (username, password) => (await handler.sessions.login({ username, password, current_app: 'CRM' })).ust;
  const on = { current_ust: await login('app', 'app-password-1'), target_ust: await login('bob', 'bob-password-1'), current_app: 'CRM' };
  const value = `é€😀 ${'v'.repeat(60_000)}`;
  inputs.length = 0;
  await handler.attrs.create({ ...on, name: 'big', value, encrypt: true });
  await handler.attrs.create({ ...on, data: [{ name: 'a', value: 'one' }, { name: 'b', value: 'two' }] });
  // A body of over 2^18 characters of base64: utf8()'s path for long text.
  const batch = Array.from({ length: 5 }, (_, i) => ({ name: `long-${i}`, value: `${i}`.repeat(60_000) }));
  await handler.attrs.create({ ...on, data: batch });
  assert.equal((await handler.attrs.get({ ...on, name: 'big' })).value, value);
  assert.deepEqual((await handler.attrs.names(on)).result.sort(), ['a', 'b', 'big', ...batch.map((a) => a.name)]);
  assert.deepEqual((await handler.users.list()).users.map((u) => u.name ?? u.username).sort(), ['app', 'bob']); // a scan
  assert.ok(inputs.some((text) => text.length > 1 << 18), 'a step input longer than the reused buffer');
  assert.ok(inputs.length >= 12, `${inputs.length} steps`);
  // The configuration went to the instance once (before the first user was
  // added), never in a step.
  assert.equal(configurations.length, 1, 'configured once for every step');
  assert.deepEqual(JSON.parse(configurations[0]).keys.map((k) => k.id), ['k1']);
  let scans = 0;
  for (const [i, text] of inputs.entries()) {
    const input = JSON.parse(text);
    assert.deepEqual(Object.keys(input), ['op', 'now', 'seed', 'records', 'scans'], `step ${i}`);
    // Rebuilt as the loop used to build it: the same text, byte for byte.
    const rebuilt = objectInput(undefined, input.op, input.now, input.seed);
    for (const [key, record] of Object.entries(input.records)) rebuilt.records[key] = record;
    for (const [prefix, entries] of Object.entries(input.scans)) rebuilt.scans[prefix] = entries;
    assert.equal(text, JSON.stringify(rebuilt), `step ${i}`);
    scans += Object.keys(input.scans).length;
  }
  assert.ok(scans > 0, 'the user listing scanned');
});

test('handlers of different configurations sharing one engine each decide every step under their own', async () => {
  const engine = new Engine(new WebAssembly.Module(readFileSync(WASM)));
  // A store that yields to the event loop on every read, so that the two
  // handlers' operations interleave between their steps.
  const slow = () => {
    const inner = memoryStore();
    return {
      get: async (keys) => (await new Promise((resolve) => setTimeout(resolve, 0)), inner.get(keys)),
      scan: (prefix) => inner.scan(prefix),
      apply: (ops) => inner.apply(ops),
    };
  };
  const crm = makeHandler(engine, { store: slow(), apps: ['CRM'] });
  const erp = makeHandler(engine, { store: slow(), apps: ['ERP'] });
  // A login of an unknown user reads the user record between its two
  // steps; under the other handler's configuration its app would be
  // unknown (E004001) instead of the generic refusal (E005001).
  const refusal = async (handler, app) => {
    try {
      await handler.sessions.login({ username: 'nobody', password: 'nobody-password', current_app: app });
      return 'logged in';
    } catch (err) {
      return err.code;
    }
  };
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? refusal(erp, 'ERP') : refusal(crm, 'CRM'))));
  assert.deepEqual(answers, Array(20).fill('E005001'));
});

test('through the Node.js entry, encrypted values of every size and script read back as written', async () => {
  const handler = createHandler({ store: memoryStore(), keys: [{ id: 'k1', key: randomBytes(32).toString('base64'), state: 'primary' }], argon2: { m_cost: 8, t_cost: 1, p_cost: 1 } });
  await handler.users.add({ username: 'app', password: 'app-password-1', superUser: true });
  const ust = (await handler.sessions.login({ username: 'app', password: 'app-password-1', current_app: 'CRM' })).ust;
  const on = { current_ust: ust, target_ust: ust, current_app: 'CRM' };
  for (const value of ['', 'x', 'é€😀', 'y'.repeat(65_536 - 8)]) {
    await handler.attrs.set({ ...on, name: 'n', value, encrypt: true });
    const got = await handler.attrs.get({ ...on, name: 'n' });
    assert.equal(got.value, value);
    assert.equal(got.is_encrypted, true);
  }
});
