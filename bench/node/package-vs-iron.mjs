// Operations per second of the sessattr npm package against iron-session,
// with 64 operations in flight (64 concurrent async loops, each starting its
// next operation when its last one is done) for a fixed time after a
// warm-up:
//   * sessattr: one operation = attrs.create of a fresh name with a 64-byte
//     value, encrypted (AES-256-GCM, as iron-session seals), then attrs.get
//     of it (decrypted), on memoryStore().
//   * iron-session: one operation = sealData({value}, {password}) then
//     unsealData of the seal, the same 64-byte value.
// Every result is checked: the value read back must be the value written,
// else the script exits non-zero.
//
// Each sessattr loop moves to a fresh session (logged in before the timed
// window) every 32 operations, so a session's attribute index, which every
// create reads and rewrites, stays as small as a real session's instead of
// growing for the whole run. Each run has a fresh world (handler and store).
//
// Runs alternate (sessattr, iron-session, sessattr, …), 3 each. Prints one
// JSON document on stdout:
//   {"bench":"node-package","sessattr":{"ops_per_sec":[…]},
//    "iron_session":{"ops_per_sec":[…]},"iron_session_version":"8.0.4",
//    "in_flight":64,"seconds":3}
// Flags: `--seconds N` (the timed window of a run, default 3; the warm-up
// is 0.5 s), `--quick` (one run of 0.3 s each after a 0.1 s warm-up).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { sealData, unsealData } from 'iron-session';

import { fail, flags, now, positive, round, secondsSince, world } from './lib.mjs';

const USAGE = 'node package-vs-iron.mjs [--quick] [--seconds N]';
const args = flags({ quick: { type: 'boolean', default: false }, seconds: { type: 'string' } }, USAGE);
const RUNS = args.quick ? 1 : 3;
const SECONDS = args.seconds !== undefined ? positive(args.seconds, 'seconds') : args.quick ? 0.3 : 3;
const WARM_SECONDS = args.quick ? 0.1 : 0.5;
const IN_FLIGHT = 64;
/** Operations of one loop on one session before it moves to a fresh one. */
const PER_SESSION = 32;

/** The 64-byte value of operation `i` of loop `loop` (each one different). */
const valueOf = (loop, i) => `${loop}.${i}.`.padEnd(64, 'v');

/**
 * Runs `op(loop, i)` in IN_FLIGHT concurrent loops until `seconds` have
 * passed; operations per second, counting the ones still in flight at the
 * deadline over the time until the last one ended.
 */
async function drive(op, seconds) {
  const start = now();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let ops = 0;
  const loop = async (id) => {
    for (let i = 0; now() < deadline; i++) {
      await op(id, i);
      ops++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, id) => loop(id)));
  return ops / secondsSince(start);
}

/** One sessattr run (warm-up, then the timed window): operations per second. */
async function sessattrRun() {
  const { handler, target } = await world();
  const { attrs } = handler;
  const pool = [];
  let lateLogins = 0;
  const fill = async (count) => {
    while (pool.length < count) pool.push(await target());
  };
  const current = new Array(IN_FLIGHT);
  const op = async (loop, i) => {
    if (i % PER_SESSION === 0) {
      // A fresh session; logging one in here (in the window) only if the
      // pool ran dry.
      current[loop] = pool.pop() ?? (lateLogins++, await target());
    }
    const on = current[loop];
    const name = `attr-${i}`;
    const value = valueOf(loop, i);
    await attrs.create({ ...on, name, value, encrypt: true }); // a refusal throws
    const got = await attrs.get({ ...on, name });
    if (got.found !== true || got.value !== value || got.is_encrypted !== true) {
      fail(`sessattr: loop ${loop} read back something else than it wrote (${name})`);
    }
  };
  await fill(2 * IN_FLIGHT);
  const warmRate = await drive(op, WARM_SECONDS);
  // Sessions for the timed window, with a margin, logged in before it.
  await fill(Math.ceil((warmRate * SECONDS * 1.5) / PER_SESSION) + 2 * IN_FLIGHT);
  lateLogins = 0;
  const rate = await drive(op, SECONDS);
  if (lateLogins > 0) process.stderr.write(`sessattr: ${lateLogins} sessions were logged in during the timed window\n`);
  return rate;
}

/** One iron-session run (warm-up, then the timed window): operations per second. */
async function ironRun() {
  const password = randomBytes(32).toString('base64url'); // 43 characters; never printed
  const op = async (loop, i) => {
    const value = valueOf(loop, i);
    const sealed = await sealData({ value }, { password });
    const back = await unsealData(sealed, { password });
    if (back?.value !== value) fail(`iron-session: loop ${loop} unsealed something else than it sealed`);
  };
  await drive(op, WARM_SECONDS);
  return drive(op, SECONDS);
}

/** The installed iron-session's version (its package.json, next to its entry). */
function ironVersion() {
  const entry = new URL(import.meta.resolve('iron-session'));
  return JSON.parse(readFileSync(new URL('../package.json', entry), 'utf8')).version;
}

const sessattr = [];
const iron = [];
for (let run = 0; run < RUNS; run++) {
  sessattr.push(round(await sessattrRun(), 1));
  iron.push(round(await ironRun(), 1));
  process.stderr.write(`run ${run + 1}: sessattr ${sessattr.at(-1)} ops/s, iron-session ${iron.at(-1)} ops/s\n`);
}
const result = {
  bench: 'node-package',
  node: process.version,
  sessattr: { ops_per_sec: sessattr },
  iron_session: { ops_per_sec: iron },
  iron_session_version: ironVersion(),
  in_flight: IN_FLIGHT,
  seconds: SECONDS,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
