// The npm package's JS face, case for case as core/benches/decide.rs:
// attrs.create and attrs.get of 1 attribute or a batch of 100, values of
// 64 B or 64 KiB, plain or encrypted, through the package's public API
// (`import 'sessattr'`, its Node entry) on memoryStore(). Calls are
// sequential; each is timed on its own with process.hrtime.bigint().
//
// State: decide.rs decides the same request from the same records every
// iteration. Here every call is applied, so:
//   * get: the attributes are created once before the case; every get
//     reads them (and its answer is checked: found, value, is_encrypted).
//   * create: the same names every iteration, and after each timed create
//     an untimed delete of them, so every create starts from a session with
//     no attributes and succeeds. (Fresh names instead would grow the
//     session's attribute index, which every create reads and rewrites, so
//     later creates would cost more, and would hit the limit of 10 000
//     attributes per session within a second of batches.)
// The body limit is raised to 16 MiB: a batch of 100 × 64 KiB is 6.4 MiB of
// JSON, over the REST API's 1 MiB default, which the operations apply too
// (the Rust bench calls the core directly, behind the host's body check).
//
// The process warms up first (1 s of the small cases, untimed), then each
// case: a warm-up of 0.25 s, then 3 runs of ~0.5 s (as many calls as fit, at
// least 3); a run's figure is its mean microseconds per call (one call =
// one attribute, or one batch of 100). Progress goes to stderr; stdout
// holds one JSON document:
//   {"bench":"node-micro","node":"v20…","cases":[{"case":"create/1x64B/plain",
//    "median_us":…,"min_us":…,"max_us":…,"runs":3,"calls":[…per run…]},…]}
// `--quick`: one run of ~50 ms per case (a smoke pass).
import { fail, flags, median, now, round, secondsSince, world } from './lib.mjs';

const USAGE = 'node micro.mjs [--quick]';
const { quick } = flags({ quick: { type: 'boolean', default: false } }, USAGE);

/** Value sizes: a typical small value, and the largest allowed (SPEC 3). */
const SIZES = [['64B', 64], ['64KiB', 65_536]];
/** Attributes per call: the single form, and a batch. */
const COUNTS = [1, 100];

const PLAN = quick
  ? { runs: 1, seconds: 0.05, minCalls: 1, warmSeconds: 0.01, warmCalls: 1, processWarmSeconds: 0.02 }
  : { runs: 3, seconds: 0.5, minCalls: 3, warmSeconds: 0.25, warmCalls: 3, processWarmSeconds: 0.25 };

const names = (count) => Array.from({ length: count }, (_, i) => `attr-${i}`);

/** The write fields of `count` attributes (`name` + `value`, or `data`), as decide.rs. */
function writeFields(count, value, encrypt) {
  if (count === 1) return { name: 'attr-0', value, encrypt };
  return { data: names(count).map((name) => ({ name, value, encrypt })) };
}

/** The name fields of `count` attributes (`name`, or `data` of names). */
const nameFields = (count) => (count === 1 ? { name: 'attr-0' } : { data: names(count) });

/** Fails unless a get answer holds every attribute with `value` and `encrypt`. */
function checkGot(answer, count, value, encrypt, what) {
  const attrs = count === 1 ? [answer] : names(count).map((name) => answer.result?.[name]);
  attrs.forEach((attr, i) => {
    if (!attr || (count === 1 && attr.found !== true)) fail(`${what}: attribute ${i} not found`);
    if (attr.value !== value) fail(`${what}: attribute ${i} read back a different value`);
    if (attr.is_encrypted !== encrypt) fail(`${what}: attribute ${i} has is_encrypted ${attr.is_encrypted}`);
  });
}

/**
 * The timed call of one case, as an async function resolving to the
 * nanoseconds of the call it timed (the reset after a create is not timed).
 */
async function prepare(attrs, on, verb, count, value, encrypt, what) {
  const create = { ...on, ...writeFields(count, value, encrypt) };
  const byName = { ...on, ...nameFields(count) };
  if (verb === 'get') {
    await attrs.create(create);
    checkGot(await attrs.get(byName), count, value, encrypt, what);
    return async () => {
      const start = now();
      const answer = await attrs.get(byName);
      const took = now() - start;
      checkGot(answer, count, value, encrypt, what);
      return took;
    };
  }
  // Once before timing: a create writes what a get reads back, and the
  // reset leaves no attribute behind.
  await attrs.create(create);
  checkGot(await attrs.get(byName), count, value, encrypt, what);
  await attrs.delete(byName);
  const left = await attrs.names(on);
  if (left.result?.length !== 0) fail(`${what}: the reset left ${left.result?.length} attributes`);
  return async () => {
    const start = now();
    await attrs.create(create); // a refusal throws
    const took = now() - start;
    await attrs.delete(byName);
    return took;
  };
}

/** Calls `timed` for `seconds` (at least `minCalls` times): mean µs per call, and calls. */
async function measure(timed, seconds, minCalls) {
  let total = 0n;
  let calls = 0;
  const start = now();
  while (calls < minCalls || secondsSince(start) < seconds) {
    total += await timed();
    calls++;
  }
  return { us: Number(total) / 1e3 / calls, calls };
}

const { handler, store, target } = await world({ limits: { body_max_bytes: 16 << 20 } });
// The process's warm-up (the JIT and the module's optimizing tier), so the
// first case is not the one that pays for it: the small cases, untimed.
for (const verb of ['create', 'get']) {
  for (const encrypt of [false, true]) {
    const timed = await prepare(handler.attrs, await target(), verb, 1, 'v'.repeat(64), encrypt, 'warm-up');
    await measure(timed, PLAN.processWarmSeconds, PLAN.warmCalls);
  }
}
const cases = [];
for (const verb of ['create', 'get']) {
  for (const count of COUNTS) {
    for (const [sizeName, size] of SIZES) {
      for (const encrypt of [false, true]) {
        const name = `${verb}/${count}x${sizeName}/${encrypt ? 'encrypted' : 'plain'}`;
        const timed = await prepare(handler.attrs, await target(), verb, count, 'v'.repeat(size), encrypt, name);
        await measure(timed, PLAN.warmSeconds, PLAN.warmCalls);
        const held = store.size;
        const runs = [];
        for (let run = 0; run < PLAN.runs; run++) {
          runs.push(await measure(timed, PLAN.seconds, PLAN.minCalls));
          if (store.size !== held) fail(`${name}: the store went from ${held} to ${store.size} records during a run`);
        }
        const us = runs.map((r) => r.us);
        cases.push({
          case: name,
          median_us: round(median(us)),
          min_us: round(Math.min(...us)),
          max_us: round(Math.max(...us)),
          runs: runs.length,
          calls: runs.map((r) => r.calls),
        });
        process.stderr.write(`${name}: ${round(median(us))} µs\n`);
      }
    }
  }
}
process.stdout.write(`${JSON.stringify({ bench: 'node-micro', node: process.version, cases })}\n`);
