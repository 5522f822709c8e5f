// The core's configuration from `createHandler`'s options, checked so that a
// mistake fails `createHandler`, not every request.

const KEY_STATES = ['primary', 'decrypt-only', 'retired'];

/**
 * Checks the keyring's shape (the host's key-file entries) so that a
 * mistake fails `createHandler`, not every request; never echoes a key.
 */
function checkKeys(keys) {
  if (!Array.isArray(keys)) throw new TypeError('sessattr: keys must be an array of {id, key, state}');
  const ids = new Set();
  for (const [i, entry] of keys.entries()) {
    const { id, key, state } = entry ?? {};
    // Only ids of this shape are ever printed (key material pasted into
    // `id` is reported by position alone).
    if (typeof id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
      throw new TypeError(`sessattr: keys[${i}].id must be 1 to 64 of A-Z a-z 0-9 . _ -`);
    }
    if (ids.has(id)) throw new TypeError(`sessattr: keys[${i}].id (${id}) appears twice in the keyring`);
    ids.add(id);
    if (typeof key !== 'string' || decodedLength(key) !== 32) {
      throw new TypeError(`sessattr: keys[${i}].key (id ${id}) must be the base64 of 32 bytes`);
    }
    if (!KEY_STATES.includes(state)) {
      throw new TypeError(`sessattr: keys[${i}].state (id ${id}) must be "primary", "decrypt-only" or "retired"`);
    }
  }
  const primaries = keys.filter((entry) => entry.state === 'primary').length;
  if (keys.length > 0 && primaries !== 1) {
    throw new TypeError(`sessattr: the keyring needs exactly one primary key (it has ${primaries})`);
  }
}

/** Bytes of canonical padded standard base64 `text` (as the host reads it), or -1. */
function decodedLength(text) {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return -1;
  return atob(text).length;
}

/** Ten years, the longest session lifetime (as the host). */
const MAX_SECS = 315_360_000;
/** The argon2 bounds of the host (sessattr_core::password). */
const ARGON2 = { maxMemory: 262_144, maxWork: 2_097_152, maxLanes: 16 };
/** The limit names of SPEC 3 (the host's setting names). */
const LIMIT_NAMES = ['name_max_bytes', 'value_max_bytes', 'data_max_items', 'body_max_bytes', 'attrs_per_session'];

const isCount = (n, max = Number.MAX_SAFE_INTEGER) => Number.isSafeInteger(n) && n >= 1 && n <= max;

/** The other options, checked as the host checks its settings. */
function checkOptions({ apps, limits, sessionLifetime, argon2 }) {
  if (!Array.isArray(apps) || apps.length === 0 || !apps.every((a) => typeof a === 'string' && a.trim() === a && a !== '' && !a.includes(','))) {
    throw new TypeError('sessattr: apps must be a non-empty array of application names (no commas, no surrounding spaces)');
  }
  if (limits === null || typeof limits !== 'object' || Array.isArray(limits)) {
    throw new TypeError('sessattr: limits must be an object');
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!LIMIT_NAMES.includes(name)) throw new TypeError(`sessattr: limits.${name} is not a limit (${LIMIT_NAMES.join(', ')})`);
    if (!isCount(value, 2 ** 32 - 1)) throw new TypeError(`sessattr: limits.${name} must be a whole number from 1 to 4294967295`);
  }
  if (!isCount(sessionLifetime, MAX_SECS)) {
    throw new TypeError(`sessattr: sessionLifetime must be a whole number of seconds from 1 to ${MAX_SECS}`);
  }
  if (argon2 !== undefined) {
    const { m_cost: m, t_cost: t, p_cost: p } = argon2 ?? {};
    const fits = isCount(m, ARGON2.maxMemory) && isCount(t) && isCount(p, ARGON2.maxLanes) && m >= 8 * p && m * t <= ARGON2.maxWork;
    if (!fits) {
      throw new TypeError(
        `sessattr: argon2 must be {m_cost, t_cost, p_cost}: m_cost 8 × p_cost to ${ARGON2.maxMemory} KiB, ` +
          `m_cost × t_cost at most ${ARGON2.maxWork}, p_cost at most ${ARGON2.maxLanes}`,
      );
    }
  }
}

/** The core's configuration (`Config` of docs/abi.md) from the handler's options. */
export function coreConfig({ keys = [], apps = ['CRM'], limits = {}, sessionLifetime = 3600, argon2 }) {
  // The host's key file document (`{keys: [...]}`) is taken as it is too.
  if (keys !== null && typeof keys === 'object' && !Array.isArray(keys) && Array.isArray(keys.keys)) keys = keys.keys;
  checkKeys(keys);
  checkOptions({ apps, limits, sessionLifetime, argon2 });
  const config = { apps, keys, limits, session_lifetime_secs: sessionLifetime };
  if (argon2) config.argon2 = argon2;
  return config;
}

