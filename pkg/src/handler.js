// The REST API of SPEC 2 as a fetch handler, and the same operations as
// plain async functions, over one engine and one store.
import { SessattrError } from './errors.js';
import { base64 } from './engine.js';

const ATTR = '/zato/sso/session/attr';
const DEFAULT_BODY_LIMIT = 1 << 20;

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

/** The core's configuration from the handler's options. */
function coreConfig({ keys = [], apps = ['CRM'], limits = {}, sessionLifetime = 3600, argon2 }) {
  checkKeys(keys);
  const config = { apps, keys, limits, session_lifetime_secs: sessionLifetime };
  if (argon2) config.argon2 = argon2;
  return config;
}

/** Reads a request body up to `limit` bytes; `null` when it is longer. */
async function readBody(request, limit) {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) return null;
  if (!request.body) return new Uint8Array();
  const chunks = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.length;
    if (total > limit) return null;
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/**
 * Creates a handler: `fetch(request)` answers every path of SPEC 2 as the
 * native host does; `attrs`, `sessions` and `users` are the operations as
 * async functions that resolve to the result fields or throw a
 * `SessattrError`.
 *
 * Options: `store` (see stores.js), `keys` (the entries of the host's key
 * file), `apps` (default `["CRM"]`), `limits` (SPEC 3, with the host's
 * setting names: `{value_max_bytes, body_max_bytes, …}`), `sessionLifetime`
 * (seconds, default 3600), `argon2` (`{m_cost, t_cost, p_cost}`), `clock`
 * (unix microseconds; tests only).
 */
export function makeHandler(engine, options) {
  // `engine` is an Engine, or a promise of one (runtimes that load the
  // module asynchronously).
  const { store } = options;
  if (!store) throw new TypeError('sessattr: createHandler needs a store');
  const config = coreConfig(options);
  const clock = options.clock ?? (() => Date.now() * 1000);
  const bodyLimit = options.limits?.body_max_bytes ?? DEFAULT_BODY_LIMIT;
  const run = async (op) => (await engine).run(store, op, config, clock);

  /** One HTTP-shaped call; the answer body parsed. */
  const call = async (method, path, fields, query = '') => {
    const body = base64(new TextEncoder().encode(JSON.stringify(fields)));
    const { response } = await run({ http: { method, path, query, body } });
    return outcome(response);
  };
  /** One admin command. */
  const admin = async (op) => outcome((await run(op)).response);

  return {
    async fetch(request) {
      const url = new URL(request.url);
      const bytes = await readBody(request, bodyLimit);
      const op = {
        http: {
          method: request.method,
          path: url.pathname,
          query: url.search.replace(/^\?/, ''),
          body: bytes === null ? '' : base64(bytes),
          body_too_large: bytes === null,
          remote_addr: request.headers.get('cf-connecting-ip') ?? '',
          user_agent: request.headers.get('user-agent') ?? '',
        },
      };
      let response;
      try {
        ({ response } = await run(op));
      } catch (err) {
        const status = err instanceof SessattrError ? err.httpStatus : 500;
        const code = err instanceof SessattrError ? err.code : 'E008004';
        return json(status, { cid: cid(), status: 'error', sub_status: [code], message: 'internal error' }, []);
      }
      return json(response.status, response.body, response.headers ?? []);
    },
    attrs: {
      create: (fields) => call('POST', ATTR, fields),
      set: (fields) => call('PUT', ATTR, fields),
      update: (fields) => call('PATCH', ATTR, fields),
      delete: (fields) => call('DELETE', ATTR, fields),
      get: (fields) => call('GET', ATTR, fields),
      exists: (fields) => call('GET', `${ATTR}/exists`, fields),
      names: (fields) => call('GET', `${ATTR}/names`, fields),
    },
    sessions: {
      login: (fields) => call('POST', '/zato/sso/user/login', fields),
      logout: (fields) => call('POST', '/zato/sso/user/logout', fields),
      renew: (fields) => call('PATCH', '/zato/sso/user/session', fields),
      get: (fields) => call('GET', '/zato/sso/user/session', fields),
      verify: (fields) => call('POST', '/zato/sso/user/session', fields),
      owner: (fields) => call('GET', '/zato/sso/user', fields),
    },
    users: {
      add: ({ username, password, superUser = false }) =>
        admin({ user_add: { username, password, is_super_user: superUser } }),
      list: () => admin({ user_list: {} }),
      lock: ({ username }) => admin({ user_lock: { username } }),
      unlock: ({ username }) => admin({ user_unlock: { username } }),
      remove: ({ username }) => admin({ user_delete: { username } }),
      passwd: ({ username, password }) => admin({ user_passwd: { username, password } }),
    },
  };
}

/** The result fields of an ok answer, or the answer's error thrown. */
function outcome(response) {
  const body = JSON.parse(response.body);
  if (body.status === 'ok') {
    const { cid: _cid, status: _status, ...fields } = body;
    return fields;
  }
  throw new SessattrError(body.sub_status?.[0] ?? 'E008004', response.status, body.message ?? 'refused', body.item);
}

function json(status, body, headers) {
  const all = new Headers(headers);
  all.set('content-type', 'application/json');
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: all });
}

function cid() {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
}
