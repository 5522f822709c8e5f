// HTTP plumbing of the handler: requests in (a fetch `Request`, or the plain
// object of `handle`), answers out, and the handler's own fallback answers.
import { SessattrError } from './errors.js';
import { base64 } from './encoding.js';

/** The request body limit when `limits.body_max_bytes` is not given (SPEC 3). */
export const DEFAULT_BODY_LIMIT = 1 << 20;

const encoder = new TextEncoder();

/** Reads a fetch `Request`'s body up to `limit` bytes; `null` when it is longer. */
export async function readBody(request, limit) {
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
  return concat(chunks, total);
}

/** The bytes of a `handle` body (bytes, string or absent); `null` when over `limit`. */
export function plainBody(body, limit) {
  let bytes;
  if (body === undefined || body === null) bytes = new Uint8Array();
  else if (typeof body === 'string') bytes = encoder.encode(body);
  else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body);
  else if (ArrayBuffer.isView(body)) bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  else throw new TypeError('sessattr: handle() takes a body of bytes (Uint8Array, Buffer, ArrayBuffer) or a string');
  return bytes.length > limit ? null : bytes;
}

function concat(chunks, total) {
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/** One header of a `Headers` or of a plain object (Node's lower-cased `req.headers`). */
export function header(headers, name) {
  if (!headers) return '';
  if (typeof headers.get === 'function') return headers.get(name) ?? '';
  const value = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/**
 * Path and query of a request target as sent: `/a?b`, or an absolute
 * `http(s)://host/a?b`. Nothing is normalized or decoded (no `..`, `%2e`
 * or `\\` resolution), so the module sees the path the host would.
 */
function target(url) {
  let rest = url;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  if (absolute) rest = url.slice(absolute[0].length) || '/';
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const mark = rest.indexOf('?');
  return mark < 0 ? { path: rest, query: '' } : { path: rest.slice(0, mark), query: rest.slice(mark + 1) };
}

/** The module's `http` operation for a request; `bytes` null = over the limit. */
export function httpOp(method, url, headers, bytes, remoteAddress) {
  const { path, query } = target(url);
  return {
    http: {
      method,
      path,
      query,
      body: bytes === null ? '' : base64(bytes),
      body_too_large: bytes === null,
      remote_addr: remoteAddress,
      user_agent: header(headers, 'user-agent'),
    },
  };
}

/** An answer as `handle` gives it: `{status, headers: [[name, value]], body}`. */
export function answer(status, body, headers = []) {
  const all = headers.filter(([name]) => name.toLowerCase() !== 'content-type');
  return { status, headers: [['content-type', 'application/json'], ...all], body };
}

/** The answer when the handler, not the module, must answer — as the host's. */
export function fallbackAnswer(err) {
  const known = err instanceof SessattrError;
  const body = {
    cid: cid(),
    status: 'error',
    sub_status: [known ? err.code : 'E008004'],
    message: known ? err.text : 'internal error',
  };
  return answer(known ? err.httpStatus : 500, JSON.stringify(body));
}

/** A fetch `Response` of an answer. */
export function toResponse({ status, headers, body }) {
  return new Response(body, { status, headers });
}

/** A fresh correlation id: 24 hex digits. */
function cid() {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
}
