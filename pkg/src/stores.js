// Store adapters. A store keeps the module's records as opaque strings:
//
//   get(keys)   → Promise<(string|null)[]>  one entry per key
//   scan(prefix)→ Promise<[key, record][]>  every key under prefix, sorted
//   apply(ops)  → Promise<boolean>          all ops at once when every
//                                           `expect` holds, else none (false)
//
// Ops are `{key, action, expect}` with action `{put: {value, expires_at}}`,
// `"delete"`, `{expire: {expires_at}}` or `"check"`, and expect `"any"`,
// `"absent"` or `{value}` (docs/abi.md). `expires_at` (unix microseconds)
// says when the store may forget a record; the module enforces expiry on
// every read regardless.

/** Whether `current` (a record or undefined) satisfies `expect`. */
function holds(expect, current) {
  if (expect === undefined || expect === 'any') return true;
  if (expect === 'absent') return current === undefined;
  if (typeof expect === 'object' && 'value' in expect) return current === expect.value;
  throw new TypeError(`sessattr: unknown precondition ${JSON.stringify(expect)}`);
}

/**
 * An in-memory store: a Map, linearizable (every apply runs to its end
 * without yielding). Records are forgotten once their `expires_at` has
 * passed by `now()` (unix microseconds; the system clock by default).
 */
export function memoryStore({ now = () => Date.now() * 1000 } = {}) {
  const records = new Map(); // key → {value, expiresAt}
  const live = (key) => {
    const entry = records.get(key);
    if (entry && entry.expiresAt !== null && entry.expiresAt <= now()) {
      records.delete(key);
      return undefined;
    }
    return entry;
  };
  return {
    async get(keys) {
      return keys.map((key) => live(key)?.value ?? null);
    },
    async scan(prefix) {
      return [...records.keys()]
        .filter((key) => key.startsWith(prefix) && live(key))
        .sort()
        .map((key) => [key, records.get(key).value]);
    },
    async apply(ops) {
      if (!ops.every(({ key, expect }) => holds(expect, live(key)?.value))) return false;
      for (const { key, action } of ops) {
        if (action === 'delete') records.delete(key);
        else if (action === 'check') continue;
        else if (action?.put) records.set(key, { value: action.put.value, expiresAt: action.put.expires_at ?? null });
        else if (action?.expire) {
          const entry = records.get(key);
          if (entry) entry.expiresAt = action.expire.expires_at ?? null;
        } else throw new TypeError(`sessattr: unknown write action ${JSON.stringify(action)}`);
      }
      return true;
    },
    /** How many records are held (for tests and metrics). */
    get size() {
      return records.size;
    },
    /** Every live record, in key order, as `sessattr store export` writes them. */
    exportRecords() {
      const keys = [...records.keys()].filter((key) => live(key)).sort();
      return {
        format: RECORDS_FORMAT,
        version: 1,
        records: keys.map((key) => ({ key, value: records.get(key).value, expires_at: records.get(key).expiresAt })),
      };
    },
    /**
     * Adds the records of a `sessattr store export` document, all or none
     * (throws when one of its keys is held); skips the expired ones.
     * Resolves to how many were added.
     */
    async importRecords(document) {
      const fresh = checkRecords(document).filter((r) => r.expires_at === null || r.expires_at > now());
      const ops = fresh.map(({ key, value, expires_at }) => ({ key, action: { put: { value, expires_at } }, expect: 'absent' }));
      if (!(await this.apply(ops))) throw new Error('sessattr: some of the imported keys are already held; nothing was imported');
      return fresh.length;
    },
  };
}

/** The `format` field of a records document. */
const RECORDS_FORMAT = 'sessattr-records';

/** The records of a records document, after checking its whole shape. */
function checkRecords(document) {
  const bad = (why) => new TypeError(`sessattr: not a sessattr-records document: ${why}`);
  if (document?.format !== RECORDS_FORMAT || document.version !== 1) throw bad('format/version');
  const only = (object, fields) => Object.keys(object).every((field) => fields.includes(field));
  if (!only(document, ['format', 'version', 'records'])) throw bad('unknown field');
  if (!Array.isArray(document.records)) throw bad('records must be an array');
  const seen = new Set();
  for (const [i, record] of document.records.entries()) {
    const { key, value, expires_at: expiresAt } = record ?? {};
    if (!only(record ?? {}, ['key', 'value', 'expires_at'])) throw bad(`records[${i}] has an unknown field`);
    if (typeof key !== 'string' || !key.startsWith('sa:') || seen.has(key)) throw bad(`records[${i}].key`);
    if (typeof value !== 'string') throw bad(`records[${i}].value must be a string`);
    if (expiresAt !== null && !Number.isSafeInteger(expiresAt)) throw bad(`records[${i}].expires_at`);
    seen.add(key);
  }
  return document.records;
}

/** Workers KV forgets nothing sooner than this many seconds from now. */
const KV_MIN_TTL_SECS = 60;

/**
 * A store over a Cloudflare Workers KV namespace (`get`, `put` with
 * `expiration`, `delete`, `list({prefix, cursor})`).
 *
 * KV is **eventually consistent**: a write is visible at once where it was
 * made and may take up to a minute to reach other locations, and it has no
 * transactions. So `apply` checks the preconditions against what this
 * location reads and then writes op by op: two workers in two locations may
 * both create the same attribute name, and a many-form write interrupted
 * half way leaves half of it. Use it for low-contention sessions (one user,
 * one location); use the native host (redb or Redis) when create must be
 * exactly once. Expiry: records get KV's `expiration` (at least 60 s from
 * now, KV's minimum), and the module enforces expiry on every read anyway.
 */
export function workersKvStore(namespace, { now = () => Date.now() * 1000 } = {}) {
  const expiration = (expiresAt) => {
    if (expiresAt === null || expiresAt === undefined) return {};
    const floor = Math.ceil(now() / 1e6) + KV_MIN_TTL_SECS;
    return { expiration: Math.max(Math.ceil(expiresAt / 1e6), floor) };
  };
  const scan = async (prefix) => {
    const names = [];
    let cursor;
    do {
      const page = await namespace.list({ prefix, cursor });
      names.push(...page.keys.map((k) => k.name));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    names.sort();
    const values = await Promise.all(names.map((name) => namespace.get(name)));
    return names.map((name, i) => [name, values[i]]).filter(([, value]) => value !== null);
  };
  return {
    async get(keys) {
      return Promise.all(keys.map((key) => namespace.get(key)));
    },
    scan,
    async apply(ops) {
      const current = await Promise.all(ops.map(({ key }) => namespace.get(key)));
      if (!ops.every(({ expect }, i) => holds(expect, current[i] ?? undefined))) return false;
      for (const [i, { key, action }] of ops.entries()) {
        if (action === 'delete') await namespace.delete(key);
        else if (action === 'check') continue;
        else if (action?.put) await namespace.put(key, action.put.value, expiration(action.put.expires_at));
        else if (action?.expire) {
          if (current[i] !== null) await namespace.put(key, current[i], expiration(action.expire.expires_at));
        } else throw new TypeError(`sessattr: unknown write action ${JSON.stringify(action)}`);
      }
      return true;
    },
  };
}
