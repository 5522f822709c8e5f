// A minimal embedding of the module for tests: the step loop of docs/abi.md
// over a JavaScript Map as the store.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The wasm-bindgen nodejs output of `cargo xtask build`. */
export const wasm = loadModule();

function loadModule() {
  const path = '../../pkg/dist/node/sessattr_wasm.js';
  try {
    return require(path);
  } catch (err) {
    if (err.code === 'MODULE_NOT_FOUND') {
      throw new Error(`${path} is missing: run \`cargo xtask build\` first`, { cause: err });
    }
    throw err;
  }
}

/** How many times a write set may lose a race before giving up (docs/abi.md). */
const MAX_ATTEMPTS = 8;
/** A bound on `need` rounds per attempt, so a confused core cannot spin forever. */
const MAX_ROUNDS = 32;

/**
 * Runs one operation to completion against `store` (a Map of key → record).
 *
 * `op` is a step `op` (`{http: …}` or `{user_add: …}`); `config` the step
 * config; `now` (unix microseconds) defaults to the current time, taken anew
 * for every attempt. No `seed` is sent: the module draws one from
 * `crypto.getRandomValues`.
 *
 * Returns the `done` decision ({response, writes, log}) whose writes were
 * applied. Throws when the module rejects the input or when every attempt lost
 * its race.
 */
export function run(store, op, { config = {}, now } = {}) {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const input = { config, op, now: now ?? Date.now() * 1000, records: {}, scans: {} };
    const done = decide(store, input);
    // `run_again`: the writes were applied, decide anew over them.
    if (apply(store, done.writes) && !done.run_again) return done;
  }
  throw new Error(`write set conflicted ${MAX_ATTEMPTS} times in a row`);
}

/** Steps until `done`, answering every `need` from `store`. */
function decide(store, input) {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const out = JSON.parse(wasm.step(JSON.stringify(input)));
    if (out.done) return out.done;
    if (out.need) {
      for (const key of out.need.get ?? []) input.records[key] = store.get(key) ?? null;
      for (const prefix of out.need.scan ?? []) input.scans[prefix] = scan(store, prefix);
      continue;
    }
    throw new Error(`step rejected the input: ${out.rejected ?? JSON.stringify(out)}`);
  }
  throw new Error(`no decision after ${MAX_ROUNDS} rounds of reads`);
}

/** Every [key, record] whose key starts with `prefix`, sorted by key. */
function scan(store, prefix) {
  return [...store]
    .filter(([key]) => key.startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Applies a write set all or nothing; false when a precondition fails. */
function apply(store, writes) {
  const ops = writes?.ops ?? [];
  const holds = ({ key, expect = 'any' }) => {
    if (expect === 'any') return true;
    if (expect === 'absent') return !store.has(key);
    if (typeof expect === 'object' && 'value' in expect) return store.get(key) === expect.value;
    throw new Error(`unknown expect ${JSON.stringify(expect)}`);
  };
  if (!ops.every(holds)) return false;
  for (const { key, action } of ops) {
    if (action === 'delete') store.delete(key);
    else if (action === 'check') continue;
    else if (action?.put) store.set(key, action.put.value);
    else if (action?.expire) continue; // a Map forgets nothing by itself
    else throw new Error(`unknown write action ${JSON.stringify(action)}`);
  }
  return true;
}

/** Base64 (standard, padded) of a string's UTF-8 bytes or of a byte array. */
export function base64(data) {
  return Buffer.from(data).toString('base64');
}

/** A config with the CRM app and one fresh random primary key. */
export function testConfig() {
  const key = crypto.getRandomValues(new Uint8Array(32));
  return { apps: ['CRM'], keys: [{ id: 'k1', key: base64(key), state: 'primary' }] };
}

/** An HTTP op with a JSON body and an optional raw query string. */
export function http(method, path, body, query = '') {
  return { http: { method, path, query, body: base64(JSON.stringify(body)) } };
}
