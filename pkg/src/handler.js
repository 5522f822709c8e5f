// The REST API of SPEC 2 as a fetch handler (and a plain-object `handle` for
// HTTP layers of one's own), and the same operations as async functions,
// over one engine and one store.
import { coreConfig } from './config.js';
import { SessattrError } from './errors.js';
import { base64 } from './encoding.js';
import { DEFAULT_BODY_LIMIT, answer, fallbackAnswer, header, httpOp, plainBody, readBody, toResponse, wellFormed } from './http.js';

const ATTR = '/zato/sso/session/attr';
/** Every option of createHandler (`module` is sessattr/portable's, taken before). */
const OPTION_NAMES = ['store', 'keys', 'apps', 'limits', 'sessionLifetime', 'argon2', 'onError', 'clock'];

const encoder = new TextEncoder();

/**
 * Creates a handler: `fetch(request)` answers every path of SPEC 2 as the
 * native host does; `handle({method, url, headers, body})` does the same for
 * a plain request object (for HTTP layers whose GET requests carry a body,
 * which a fetch `Request` cannot) and resolves to `{status, headers, body}`;
 * `attrs`, `sessions` and `users` are the operations as async functions that
 * resolve to the result fields or throw a `SessattrError`.
 *
 * Options: `store` (see stores.js), `keys` (the entries of the host's key
 * file), `apps` (default `["CRM"]`), `limits` (SPEC 3, with the host's
 * setting names: `{value_max_bytes, body_max_bytes, …}`), `sessionLifetime`
 * (seconds, default 3600), `argon2` (`{m_cost, t_cost, p_cost}`), `onError`
 * (called with the error whenever `fetch` answers 400/500/503 on its own —
 * a failing store, an unreadable body — for logging; it is the store's own
 * error as `cause`), `clock` (unix microseconds; tests only).
 */
export function makeHandler(engine, options) {
  // `engine` is an Engine, or a promise of one (runtimes that load the
  // module asynchronously).
  const unknown = Object.keys(options ?? {}).filter((name) => !OPTION_NAMES.includes(name));
  if (unknown.length > 0) throw new TypeError(`sessattr: unknown option ${unknown.join(', ')} (options: ${OPTION_NAMES.join(', ')})`);
  const { store } = options;
  if (!store || !['get', 'scan', 'apply'].every((method) => typeof store[method] === 'function')) {
    throw new TypeError('sessattr: createHandler needs a store with get, scan and apply (see the README)');
  }
  const config = coreConfig(options);
  const clock = options.clock ?? (() => Date.now() * 1000);
  const bodyLimit = options.limits?.body_max_bytes ?? DEFAULT_BODY_LIMIT;
  const run = async (op) => (await engine).run(store, op, config, clock);
  const onError = options.onError ?? (() => {});

  /** The answer to one HTTP request (`bytes` null = over the body limit). */
  const respond = async (method, url, headers, bytes, remoteAddress) => {
    try {
      const { response } = await run(httpOp(method, url, headers, bytes, remoteAddress));
      return answer(response.status, response.body, response.headers ?? []);
    } catch (err) {
      onError(err);
      return fallbackAnswer(err);
    }
  };

  /** One HTTP-shaped call; the answer body parsed. */
  const call = async (method, path, fields) => {
    const bytes = encoder.encode(fieldsJson(fields));
    const body = bytes.length > bodyLimit ? '' : base64(bytes);
    const { response } = await run({ http: { method, path, query: '', body, body_too_large: body === '' && bytes.length > 0 } });
    return outcome(response);
  };
  /** One admin command. */
  const admin = async (op) => outcome((await run(op)).response);

  return {
    async fetch(request) {
      let bytes;
      try {
        bytes = await readBody(request, bodyLimit);
      } catch (cause) {
        const err = new SessattrError('E008002', 400, 'the request body could not be read', undefined, { cause });
        onError(err);
        return toResponse(fallbackAnswer(err));
      }
      // Behind Cloudflare, the client's address is this header (set by the
      // edge, not by the client).
      const remoteAddress = request.headers.get('cf-connecting-ip') ?? '';
      return toResponse(await respond(request.method, request.url, request.headers, bytes, remoteAddress));
    },
    async handle(request) {
      const { method, url, headers, body, remoteAddress } = checkPlain(request);
      const bytes = declaredLength(headers) > bodyLimit ? null : plainBody(body, bodyLimit);
      return respond(method, url, headers, bytes, remoteAddress ?? '');
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
      add: async (user) => {
        const { username, password, superUser = false } = userFields(user, ['username', 'password']);
        if (typeof superUser !== 'boolean') throw invalid('superUser must be a boolean');
        return admin({ user_add: { username, password, is_super_user: superUser } });
      },
      list: () => admin({ user_list: {} }),
      lock: async (user) => admin({ user_lock: { username: userFields(user, ['username']).username } }),
      unlock: async (user) => admin({ user_unlock: { username: userFields(user, ['username']).username } }),
      remove: async (user) => admin({ user_delete: { username: userFields(user, ['username']).username } }),
      passwd: async (user) => {
        const { username, password } = userFields(user, ['username', 'password']);
        return admin({ user_passwd: { username, password } });
      },
    },
  };
}

/** A refused argument of an operation: E008002, as the REST API answers it. */
function invalid(what) {
  return new SessattrError('E008002', 403, `invalid input: ${what}`);
}

/** The fields of a `users.*` call, each of `required` a string. */
function userFields(user, required) {
  if (user === null || typeof user !== 'object') throw new SessattrError('E008003', 403, `missing input: ${required.join(', ')}`);
  for (const name of required) {
    if (user[name] === undefined) throw new SessattrError('E008003', 403, `missing input: ${name}`);
    if (typeof user[name] !== 'string') throw invalid(`${name} must be a string`);
    // A lone surrogate cannot reach the module (its input is JSON text).
    if (!wellFormed(user[name])) throw invalid(`${name} must be Unicode text (it holds a lone surrogate)`);
  }
  return user;
}

/**
 * The JSON of an operation's fields. Numbers JSON cannot hold (NaN,
 * ±Infinity, which `JSON.stringify` would quietly turn into `null`, e.g. an
 * expiration meaning "never") are refused as the REST API refuses them.
 */
function fieldsJson(fields) {
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw invalid('the fields must be an object');
  try {
    return JSON.stringify(fields, (key, value) => {
      if (typeof value === 'number' && !Number.isFinite(value)) throw invalid(`${key} must be a finite number`);
      if (typeof value === 'bigint') throw invalid(`${key} must be a number`);
      return value;
    });
  } catch (err) {
    if (err instanceof SessattrError) throw err;
    throw invalid('the fields cannot be written as JSON (a circular reference?)');
  }
}

/** A `handle` request, checked; a mistake is the caller's (TypeError). */
function checkPlain(request) {
  if (request === null || typeof request !== 'object') throw new TypeError('sessattr: handle() takes {method, url, headers, body}');
  const { method, url } = request;
  if (typeof method !== 'string' || typeof url !== 'string') throw new TypeError('sessattr: handle() needs method and url strings');
  return request;
}

/** The Content-Length a request declares (NaN when none). */
function declaredLength(headers) {
  return Number(header(headers, 'content-length') || NaN);
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
