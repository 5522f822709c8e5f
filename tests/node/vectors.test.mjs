// Cross-runtime vectors: records made by the npm package are read by the
// native host with the same key, and the other way round — freshly made in
// this run, and from the committed files of tests/vectors/ (so that a format
// change that would strand stored data fails here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ATTRIBUTES, makeWithHost, makeWithJs, readWithHost, readWithJs } from '../vectors/crossing.mjs';

const committed = (name) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'));

/** What reading a vector must give: every attribute, its value and its encryption. */
const EXPECTED = {
  attributes: ATTRIBUTES.map(({ name, value, encrypt }) => ({ name, value, is_encrypted: encrypt === true })),
  login: true,
};

/** The encrypted attributes' plaintexts are nowhere in the records. */
function assertSealed(v) {
  const stored = JSON.stringify(v.records);
  for (const { value, encrypt } of v.attributes) {
    if (encrypt && value !== '') assert.ok(!stored.includes(JSON.stringify(value).slice(1, -1)), 'an encrypted value is sealed in its record');
  }
  assert.ok(v.records.records.some(({ key }) => key.startsWith('sa:a:')), 'the records hold attributes');
}

test('records written by the npm package are read and decrypted by the native host', async () => {
  const v = await makeWithJs();
  assertSealed(v);
  assert.deepEqual(await readWithHost(v), EXPECTED);
});

test('records written by the native host are read and decrypted by the npm package', async () => {
  const v = await makeWithHost();
  assertSealed(v);
  assert.deepEqual(await readWithJs(v), EXPECTED);
});

for (const file of ['records-from-npm.json', 'records-from-host.json']) {
  test(`committed vector ${file}: both faces read it`, async () => {
    const v = committed(file);
    assert.deepEqual(v.attributes, ATTRIBUTES, 'the vector holds the attributes of crossing.mjs');
    assertSealed(v);
    assert.deepEqual(await readWithJs(v), EXPECTED);
    assert.deepEqual(await readWithHost(v), EXPECTED);
  });
}

test('another key cannot read the sealed attributes: E008004', async () => {
  const v = await makeWithJs();
  const other = { ...v, key: { ...v.key, key: Buffer.alloc(32, 7).toString('base64') } };
  await assert.rejects(readWithJs(other), (err) => err.code === 'E008004');
});
