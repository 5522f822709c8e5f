// Sessions for a load run of the peer app (peer-express.mjs): logs in
// `--count` sessions, sets attribute `a` (a 64-byte value) on each, reads
// it back to check it, and prints the sessions' Cookie header values
// (`connect.sid=…`) as one JSON array on stdout. The Rust harness puts them
// into the wrk Lua script that rotates them.
//
//   node peer-sessions.mjs --url http://127.0.0.1:P [--count 256]
//
// Any answer that is not the expected one exits non-zero with the reason on
// stderr (and prints nothing on stdout).
import { fail, flags, positive } from './lib.mjs';

const USAGE = 'node peer-sessions.mjs --url http://127.0.0.1:P [--count 256]';
const args = flags({ url: { type: 'string' }, count: { type: 'string', default: '256' } }, USAGE);
if (args.url === undefined) fail(`--url is required\nusage: ${USAGE}`);
const count = positive(args.count, 'count');
if (!Number.isInteger(count)) fail('--count must be a whole number');
const base = args.url.replace(/\/+$/, '');
/** Logins in flight at once. */
const PARALLEL = 8;

/** The JSON answer of a request, which must be 200 with status ok. */
async function call(what, path, init) {
  let res;
  try {
    res = await fetch(`${base}${path}`, init);
  } catch (err) {
    fail(`${what}: ${base}${path} did not answer (${err.cause?.message ?? err.message})`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`${what}: HTTP ${res.status}, not JSON`);
  }
  if (res.status !== 200 || body.status !== 'ok') fail(`${what}: HTTP ${res.status}, ${JSON.stringify(body)}`);
  return { res, body };
}

/** One session: its Cookie header value, once attribute `a` is set and read back. */
async function session(i) {
  const { res } = await call(`login ${i}`, '/login', { method: 'POST' });
  const sid = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
  if (!sid) fail(`login ${i}: no connect.sid cookie in the answer`);
  const cookie = sid.split(';')[0];
  const value = `session-${i}.`.padEnd(64, 'v');
  const headers = { cookie, 'content-type': 'application/json' };
  await call(`set a on session ${i}`, '/attr', { method: 'POST', headers, body: JSON.stringify({ name: 'a', value }) });
  const { body } = await call(`get a of session ${i}`, '/attr?name=a', { headers: { cookie } });
  if (body.found !== true || body.value !== value) fail(`session ${i}: attribute a read back something else than was set`);
  return cookie;
}

const cookies = new Array(count);
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(PARALLEL, count) }, async () => {
    while (next < count) {
      const i = next++;
      cookies[i] = await session(i);
    }
  }),
);
if (new Set(cookies).size !== count) fail('two logins answered the same session cookie');
process.stdout.write(`${JSON.stringify(cookies)}\n`);
