// What the secrets scan of `cargo xtask test` reads (SPEC 5: values,
// passwords, keys and USTs never reach logs or error bodies). When
// SESSATTR_TEST_EVIDENCE names a folder, the tests record there every
// secret they used (secrets/*.jsonl), keep every server or worker log
// (logs/) and every error answer's body (bodies/); xtask/src/secrets.rs
// scans every log and body for every secret. The twin of
// host/tests/common/evidence.rs. Without the variable nothing is recorded.
import { appendFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const ROOT = process.env.SESSATTR_TEST_EVIDENCE;
const TAG = `node-${basename(process.argv[1] ?? 'test').replace(/[^A-Za-z0-9._-]/g, '_')}-${process.pid}`;
let logs = 0;

function append(folder, file, text) {
  if (!ROOT) return;
  const dir = join(ROOT, folder);
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, file), text);
}

/** The secret kinds SPEC 5 names, by the request field that carries them. */
const KINDS = { value: 'value', password: 'password', ust: 'ust', current_ust: 'ust', target_ust: 'ust', key: 'key' };

/** Longest secret recorded, in code points (the scan looks for the start of each). */
const MAX_SECRET = 4096;

/**
 * Records a secret a test used (`kind`: value, password, key or ust). A
 * string that is not well-formed Unicode (a lone surrogate, which hostile
 * tests send) is not recorded: no log or body can hold it as such.
 */
export function secret(kind, text) {
  if (!ROOT || typeof text !== 'string' || text === '' || !text.isWellFormed()) return;
  const head = text.length > MAX_SECRET ? Array.from(text).slice(0, MAX_SECRET).join('') : text;
  append('secrets', `${TAG}.jsonl`, `${JSON.stringify({ kind, secret: head })}\n`);
}

/** Records the secrets found at any depth of a parsed JSON value, by field name. */
export function secretsIn(value, field) {
  if (!ROOT) return;
  if (typeof value === 'string') {
    if (KINDS[field]) secret(KINDS[field], value);
  } else if (Array.isArray(value)) {
    for (const item of value) secretsIn(item, field);
  } else if (value && typeof value === 'object') {
    for (const [name, item] of Object.entries(value)) secretsIn(item, name);
  }
}

/** Records the secrets of a request: its JSON body's and its query string's. */
export function request(url, body) {
  if (!ROOT) return;
  if (typeof body === 'string') {
    try {
      secretsIn(JSON.parse(body));
    } catch {
      // Not JSON: nothing to record.
    }
  }
  const query = new URL(url, 'http://x').searchParams;
  for (const [name, value] of query) if (KINDS[name]) secret(KINDS[name], value);
}

/** Records the UST of a login answer; keeps the body of every error answer. */
export function answer(status, text) {
  if (!ROOT) return;
  if (status !== 200) append('bodies', `${TAG}.txt`, `${text}\n`);
  try {
    const ust = JSON.parse(text)?.ust;
    if (typeof ust === 'string') secret('ust', ust);
  } catch {
    // Not JSON.
  }
}

/** Keeps `text` (a server's or a worker's output) as a log. */
export function log(text) {
  if (!ROOT || !text) return;
  append('logs', `${TAG}-${logs++}.log`, text);
}
