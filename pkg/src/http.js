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
  else if (typeof body === 'string') bytes = LONE_SURROGATE.test(body) ? wtf8(body) : encoder.encode(body);
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

/**
 * A lone surrogate: a JS string holding one is not Unicode text, and the
 * module's JSON input cannot carry it (the step would fail: a 500).
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** Whether `text` is Unicode text (no lone surrogate). */
export function wellFormed(text) {
  return !LONE_SURROGATE.test(text);
}

/** The three bytes a surrogate code unit takes in WTF-8 (never valid UTF-8). */
function surrogateBytes(unit) {
  return [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)];
}

/**
 * A string's bytes with each lone surrogate as its WTF-8 bytes, so that the
 * module refuses them as the invalid UTF-8 they are (`400 E008002`) rather
 * than reading U+FFFD, as `TextEncoder` would make them: names are
 * byte-exact, and the host never receives anything but bytes.
 */
function wtf8(text) {
  const lone = text.match(LONE_SURROGATES);
  const chunks = [];
  text.split(LONE_SURROGATES).forEach((part, at) => {
    chunks.push(encoder.encode(part));
    if (at < lone.length) chunks.push(Uint8Array.from(surrogateBytes(lone[at].charCodeAt(0))));
  });
  return concat(chunks, chunks.reduce((total, chunk) => total + chunk.length, 0));
}

/**
 * A query string with each lone surrogate percent-encoded as its WTF-8
 * bytes: the module refuses it like `%ED%A0%80` (`E008002`, the query is
 * not UTF-8). Other texts (method, path, headers) get U+FFFD, as the host's
 * lossy header reading gives; such a path or method matches no route.
 */
function queryText(query) {
  return query.replace(LONE_SURROGATES, (unit) =>
    surrogateBytes(unit.charCodeAt(0)).map((b) => `%${b.toString(16).toUpperCase()}`).join(''));
}

/** `value` as text the module's JSON input can carry. */
function text(value) {
  return String(value ?? '').replace(LONE_SURROGATES, '\ufffd');
}

/** The module's `http` operation for a request; `bytes` null = over the limit. */
export function httpOp(method, url, headers, bytes, remoteAddress) {
  const { path, query } = target(url);
  return {
    http: {
      method: text(method),
      path: text(path),
      query: queryText(query),
      body: bytes === null ? '' : base64(bytes),
      body_too_large: bytes === null,
      remote_addr: text(remoteAddress),
      user_agent: text(header(headers, 'user-agent')),
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
