// Talks to a sessattr server (the native host, or the npm package's fetch
// handler) over its REST API (SPEC 2). Fetch cannot send a body with GET, so
// GET fields travel in the query string (as Zato clients may send them);
// every other method sends a JSON body.

import { describeError } from './codes.js';

/** An answer that is not `status: "ok"`, or no answer at all. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {object|null} body the parsed answer
   * @param {string} message readable text (see codes.js)
   */
  constructor(status, body, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    /** The sub-status code, e.g. `E009001` (undefined without one). */
    this.code = body?.sub_status?.[0];
  }
}

/** `?a=1&data=x&data=y` for GET: arrays repeat their key, booleans are `true`/`false`. */
export function queryString(fields) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** A client of the server at `base` ('' = the page's own origin). */
export class Server {
  constructor(base = '') {
    this.base = base.replace(/\/+$/, '');
    /** Called with every exchange `{method, path, fields, status, body}` (for the on-screen log). */
    this.onExchange = () => {};
  }

  /**
   * Sends one request; resolves to the parsed answer when its status is
   * `ok`, rejects with an ApiError otherwise.
   */
  async call(method, path, fields = {}) {
    const isGet = method === 'GET';
    const url = `${this.base}${path}${isGet ? queryString(fields) : ''}`;
    let response;
    try {
      response = await fetch(url, {
        method,
        headers: isGet ? {} : { 'content-type': 'application/json' },
        body: isGet ? undefined : JSON.stringify(fields),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      this.onExchange({ method, path, fields, status: 0, body: null });
      const hint = this.base
        ? `Cannot reach the server at ${this.base}. Is it running, and does it allow this page's origin (sessattr serve --allow-origin ${location.origin})? A console served by a sessattr server talks to that server only.`
        : 'Cannot reach the server that serves this page. Is it running?';
      throw new ApiError(0, null, hint);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON (a proxy's error page): reported below.
    }
    this.onExchange({ method, path, fields, status: response.status, body });
    if (body?.status === 'ok') return body;
    throw new ApiError(response.status, body, describeError(response.status, body));
  }
}

/** The paths of SPEC 2.2 and 2.4. */
export const PATHS = {
  attr: '/zato/sso/session/attr',
  exists: '/zato/sso/session/attr/exists',
  names: '/zato/sso/session/attr/names',
  login: '/zato/sso/user/login',
  logout: '/zato/sso/user/logout',
  session: '/zato/sso/user/session',
  user: '/zato/sso/user',
};
