// memoryStore(): record export and import in the host's records format.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { memoryStore } from '../../pkg/src/node.js';

const put = (key, value, expiresAt = null, expect = 'any') => ({ key, action: { put: { value, expires_at: expiresAt } }, expect });

test('exportRecords gives every live record in key order, with its expiry, in the records format', async () => {
  let now = 1_000;
  const store = memoryStore({ now: () => now });
  await store.apply([put('sa:b', 'two', 5_000), put('sa:a', 'one'), put('sa:c', 'gone', 2_000)]);
  now = 2_000;
  assert.deepEqual(store.exportRecords(), {
    format: 'sessattr-records',
    version: 1,
    records: [
      { key: 'sa:a', value: 'one', expires_at: null },
      { key: 'sa:b', value: 'two', expires_at: 5_000 },
    ],
  });
});

test('importRecords adds everything, skipping the expired, and the copy equals the original', async () => {
  let now = 1_000;
  const source = memoryStore({ now: () => now });
  await source.apply([put('sa:x', 'x'), put('sa:y', 'y', 9_000)]);
  const document = source.exportRecords();
  document.records.push({ key: 'sa:old', value: 'old', expires_at: 500 });
  const copy = memoryStore({ now: () => now });
  assert.equal(await copy.importRecords(document), 2);
  assert.deepEqual(copy.exportRecords(), source.exportRecords());
});

test('importRecords is all or nothing: one held key, nothing added', async () => {
  const store = memoryStore();
  await store.apply([put('sa:held', 'mine')]);
  const document = { format: 'sessattr-records', version: 1, records: [
    { key: 'sa:new', value: 'n', expires_at: null },
    { key: 'sa:held', value: 'theirs', expires_at: null },
  ] };
  await assert.rejects(store.importRecords(document), /already held; nothing was imported/);
  assert.deepEqual(await store.get(['sa:new', 'sa:held']), [null, 'mine']);
});

test('importRecords checks the whole document first and never echoes a value', async () => {
  const store = memoryStore();
  const doc = (records, extra = {}) => ({ format: 'sessattr-records', version: 1, records, ...extra });
  const secret = 'do-not-print-this';
  const bad = [
    doc([], { format: 'other' }),
    doc([], { version: 2 }),
    { format: 'sessattr-records', version: 1, records: {} },
    doc([{ key: 'sa:ok', value: secret, expires_at: null }, { key: 'nope', value: secret, expires_at: null }]),
    doc([{ key: 'sa:ok', value: 42, expires_at: null }]),
    doc([{ key: 'sa:ok', value: secret, expires_at: 1.5 }]),
    doc([{ key: 'sa:d', value: secret, expires_at: null }, { key: 'sa:d', value: secret, expires_at: null }]),
    doc([], { extra: true }),
    doc([{ key: 'sa:ok', value: secret, expires_at: null, note: 1 }]),
    null,
  ];
  for (const document of bad) {
    await assert.rejects(store.importRecords(document), (err) => err instanceof TypeError && !err.message.includes(secret));
  }
  assert.equal(store.size, 0);
});
