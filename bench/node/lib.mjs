// Shared by the benchmark scripts: a sessattr world (a handler on
// memoryStore() with a super-user session and end users' sessions),
// command-line flags, figures, and failing loudly.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { createHandler, memoryStore } from 'sessattr';

/** The application every call names (the package's default app list). */
export const APP = 'CRM';

/**
 * Cheap password hashing for the users of a benchmark world. Only
 * `users.add` and `sessions.login` hash passwords, and no benchmark times
 * those; attribute operations do not depend on it.
 */
const BENCH_ARGON2 = { m_cost: 8, t_cost: 1, p_cost: 1 };

/**
 * A fresh world: a handler on a fresh `memoryStore()` with a random primary
 * key (never printed), a super-user `admin` logged in, and `target()`,
 * which logs the end user in once more and resolves to the fields naming a
 * fresh session (`{current_ust, target_ust, current_app}`). `limits` go to
 * createHandler as they are.
 */
export async function world({ limits } = {}) {
  const store = memoryStore();
  const handler = createHandler({
    store,
    keys: [{ id: 'bench', key: randomBytes(32).toString('base64'), state: 'primary' }],
    argon2: BENCH_ARGON2,
    ...(limits ? { limits } : {}),
  });
  const password = randomBytes(18).toString('base64url');
  await handler.users.add({ username: 'bench-app', password, superUser: true });
  await handler.users.add({ username: 'alice', password });
  const login = async (username) => (await handler.sessions.login({ username, password, current_app: APP })).ust;
  const admin = await login('bench-app');
  const target = async () => ({ current_ust: admin, target_ust: await login('alice'), current_app: APP });
  return { handler, store, target };
}

/** Prints `message` on stderr and exits non-zero. */
export function fail(message) {
  process.stderr.write(`${process.argv[1]?.split('/').pop() ?? 'bench'}: ${message}\n`);
  process.exit(1);
}

/**
 * The command-line flags (`node:util` parseArgs, strict: an unknown flag
 * fails); `usage` is printed with the error.
 */
export function flags(options, usage) {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    fail(`${err.message}\nusage: ${usage}`);
  }
}

/** A positive number from a flag's text, or a loud failure. */
export function positive(text, name) {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number (got ${JSON.stringify(text)})`);
  return n;
}

/** The median of numbers (the mean of the middle two for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `n` rounded to `digits` decimals (figures, not noise). */
export const round = (n, digits = 2) => Number(n.toFixed(digits));

/** Nanoseconds on the monotonic clock, as a BigInt. */
export const now = () => process.hrtime.bigint();

/** Seconds since `start` (a `now()`). */
export const secondsSince = (start) => Number(now() - start) / 1e9;
