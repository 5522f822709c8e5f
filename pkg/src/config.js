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
    if (typeof id !== 'string' || id === '' || ids.has(id)) {
      throw new TypeError(`sessattr: keys[${i}].id must be a non-empty string, unique in the keyring`);
    }
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

/** Bytes of standard base64 `text`, or -1 when it is not base64. */
function decodedLength(text) {
  try {
    return atob(text).length;
  } catch {
    return -1;
  }
}

/** The core's configuration (`Config` of docs/abi.md) from the handler's options. */
export function coreConfig({ keys = [], apps = ['CRM'], limits = {}, sessionLifetime = 3600, argon2 }) {
  checkKeys(keys);
  const config = { apps, keys, limits, session_lifetime_secs: sessionLifetime };
  if (argon2) config.argon2 = argon2;
  return config;
}

