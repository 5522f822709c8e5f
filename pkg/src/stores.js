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
  };
}
