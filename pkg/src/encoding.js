// Byte encodings of the step loop: standard base64 (request bodies and seeds
// go to the module as base64) and UTF-8 (the step input's JSON text), with a
// fast path where the runtime has one and a portable one everywhere else.
// Node.js, Deno, workerd and browsers all run this file, so every fast path
// is feature-detected, and checked once against the portable path before it
// is used.

/** Bytes per `String.fromCharCode.apply` call: well under every engine's argument limit. */
const CHUNK = 0x8000;

/**
 * Standard base64 (RFC 4648 §4, padded) of a Uint8Array, with `btoa` only:
 * the portable path, for runtimes with neither `toBase64` nor `Buffer`.
 * `apply` takes the typed array as it is (a spread would go through its
 * iterator, several times slower).
 */
export function portableBase64(bytes) {
  if (bytes.length <= CHUNK) return btoa(String.fromCharCode.apply(null, bytes));
  const parts = [];
  for (let i = 0; i < bytes.length; i += CHUNK) parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK)));
  return btoa(parts.join(''));
}

/**
 * The runtime's own base64 encoder, if it has one: `Uint8Array.prototype.toBase64`
 * (ES2026; recent browsers, Deno, Node.js ≥ 25), else Node.js's `Buffer` (Node.js,
 * Deno's and Bun's Node compatibility, bundlers' polyfills).
 */
function nativeBase64() {
  if (typeof Uint8Array.prototype.toBase64 === 'function') return (bytes) => bytes.toBase64();
  const { Buffer } = globalThis;
  if (typeof Buffer?.from === 'function') {
    // A view of the same memory, not a copy.
    return (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  }
  return undefined;
}

/** Whether `encode` gives the portable path's answer on every byte value and padding length. */
function agrees(encode) {
  try {
    const all = Uint8Array.from({ length: 256 + 2 }, (_, i) => i & 0xff);
    return [0, 1, 2, 3, all.length].every((n) => encode(all.subarray(0, n)) === portableBase64(all.subarray(0, n)));
  } catch {
    return false;
  }
}

const native = nativeBase64();

/** Standard base64 (padded) of a Uint8Array: the runtime's encoder when it agrees with the portable one. */
export const base64 = native && agrees(native) ? native : portableBase64;

const encoder = new TextEncoder();

/** Text up to this many UTF-16 units is encoded into a reused buffer; longer text into a fresh one. */
const SCRATCH_UNITS = 1 << 18;
/** The reused buffer, grown as needed up to the UTF-8 of SCRATCH_UNITS units. */
let scratch = new Uint8Array(0);

/**
 * The UTF-8 bytes of `text`, as `TextEncoder.encode` gives them. For text
 * up to SCRATCH_UNITS units they are a view of a buffer that the next call
 * overwrites: copy them before calling again. A step input (a few KiB) so
 * costs no allocation, while a large body is encoded into a buffer of its
 * own that is not kept afterwards.
 */
export function utf8(text) {
  if (text.length > SCRATCH_UNITS) return encoder.encode(text);
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is
  // 4), so this much room always takes all of `text`.
  const room = text.length * 3;
  if (scratch.length < room) scratch = new Uint8Array(Math.min(Math.max(room, 2 * scratch.length, 4096), SCRATCH_UNITS * 3));
  const { written } = encoder.encodeInto(text, scratch);
  return scratch.subarray(0, written);
}
