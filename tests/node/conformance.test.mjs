// The conformance suite (tests/cases/*.json, format in tests/cases/README.md)
// played against the npm package's createHandler().fetch over memoryStore():
// the same cases, the same expected answers as the native host. The host's
// runner (host/tests/conformance.rs) also validates answers against
// docs/openapi.yaml; this one checks status, headers, body and cid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

import { createHandler, memoryStore } from '../../pkg/src/node.js';
import * as evidence from './evidence.mjs';

const CASES = new URL('../cases/', import.meta.url);
const BASE = 'http://127.0.0.1:17010';
const NEVER = '9999-12-31T00:00:00.000000';
/** Capabilities of this runner: fetch cannot send a GET with a body. */
// A fetch `Request` cannot carry a GET body; `handler.handle` can.
const CAPABILITIES = new Set(['get-body']);
/** The fixture users of tests/cases/README.md. */
const USERS = [
  ['admin', 'admin-Pa55word-Zq81', true],
  ['admin2', 'admin2-Pa55word-Rt63', true],
  ['alice', 'alice-Pa55word-Wx47', false],
  ['bob', 'bob-Pa55word-Kj22', false],
  ['carol', 'carol-Pa55word-Ml09', false],
  ['boss', 'boss-Pa55word-Tq70', true],
];
const MIN_REQUESTS = 120;

let offset = 0; // the test clock: microseconds ahead of the system clock
const handler = createHandler({
  store: memoryStore({ now: () => Date.now() * 1000 + offset }),
  keys: [{ id: 'k-conformance', key: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'), state: 'primary' }],
  clock: () => Date.now() * 1000 + offset,
});
const stats = { cases: 0, skipped: 0, requests: 0 };

for (const [name, , superUser] of USERS) {
  const password = USERS.find((u) => u[0] === name)[1];
  await handler.users.add({ username: name, password, superUser });
}

// ---- placeholders (README: request placeholders) ----

function resolve(value, vars) {
  if (typeof value === 'string') return resolveString(value, vars);
  if (Array.isArray(value)) return value.map((v) => resolve(v, vars));
  if (value && typeof value === 'object') {
    if ('$list' in value) {
      return Array.from({ length: value.$list }, (_, i) => resolve(number(value.of, i), vars));
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, vars)]));
  }
  return value;
}

function resolveString(text, vars) {
  if (!text.startsWith('$')) return text;
  if (text.startsWith('$$')) return text.slice(1);
  if (text.startsWith('$ust:')) return ust(vars, text.slice(5));
  if (text.startsWith('$var:')) return variable(vars, text.slice(5));
  if (text.startsWith('$repeat:')) {
    const [count, ...piece] = text.slice(8).split(':');
    return piece.join(':').repeat(Number(count));
  }
  throw new Error(`unknown placeholder ${text}`);
}

function number(template, i) {
  if (typeof template === 'string') return template.replaceAll('$i', String(i));
  if (Array.isArray(template)) return template.map((v) => number(v, i));
  if (template && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, number(v, i)]));
  }
  return template;
}

function interpolate(raw, vars) {
  return raw.replace(/\$\{(ust|var):([^}]*)\}/g, (_, kind, name) => {
    if (kind === 'ust') return ust(vars, name);
    const value = variable(vars, name);
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

/** A raw body or query string: text, or parts (README: raw parts) as bytes. */
function rawBytes(raw, vars, bytesAllowed) {
  if (typeof raw === 'string') return new TextEncoder().encode(interpolate(raw, vars));
  const chunks = raw.map((part) => {
    if (typeof part === 'string') return new TextEncoder().encode(interpolate(part, vars));
    const keys = Object.keys(part).sort().join(',');
    if (keys === 'of,repeat') {
      const text = part.of.includes('$i')
        ? Array.from({ length: part.repeat }, (_, i) => part.of.replaceAll('$i', String(i))).join('')
        : part.of.repeat(part.repeat);
      return new TextEncoder().encode(text);
    }
    if (keys === 'hex' && bytesAllowed) {
      const digits = part.hex.replaceAll(' ', '');
      if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`not hex: ${part.hex}`);
      return Uint8Array.from(digits.match(/../g) ?? [], (pair) => parseInt(pair, 16));
    }
    throw new Error(`bad raw part ${JSON.stringify(part)}`);
  });
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

function ust(vars, name) {
  if (!(name in vars.usts)) throw new Error(`no session ${name} in this case`);
  return vars.usts[name];
}

function variable(vars, name) {
  if (!(name in vars.captured)) throw new Error(`variable ${name} was not captured`);
  return vars.captured[name];
}

/** RFC 3986 unreserved characters stay; every other byte is %XX. */
function encode(text) {
  return [...new TextEncoder().encode(text)]
    .map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

function queryString(request, vars) {
  const parts = [];
  for (const [key, value] of Object.entries(request.query ?? {})) {
    const resolved = resolve(value, vars);
    for (const item of Array.isArray(resolved) ? resolved : [resolved]) {
      parts.push(`${encode(key)}=${encode(typeof item === 'string' ? item : JSON.stringify(item))}`);
    }
  }
  if (request.query_raw !== undefined) parts.push(new TextDecoder('utf-8', { fatal: true }).decode(rawBytes(request.query_raw, vars, false)));
  return parts.join('&');
}

// ---- matchers (README: expect) ----

function parseTimestamp(text) {
  if (typeof text !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/.test(text)) return null;
  const millis = Date.parse(`${text.slice(0, 23)}Z`);
  return Number.isNaN(millis) ? null : BigInt(millis) * 1000n + BigInt(text.slice(23, 26));
}

function formatTimestamp(micros) {
  const date = new Date(Number(micros / 1000n)).toISOString().slice(0, 23);
  return `${date}${String(micros % 1000n).padStart(3, '0')}`;
}

const base64url = (t) => typeof t === 'string' && /^[A-Za-z0-9_-]*$/.test(t);

function matcher(spec, actual, vars) {
  if (spec === '$any') return null;
  if (spec === '$timestamp') return parseTimestamp(actual) !== null && actual !== NEVER ? null : 'a timestamp';
  if (spec === '$never') return actual === NEVER ? null : NEVER;
  if (spec === '$envelope') return base64url(actual) && actual.length >= 42 ? null : 'an envelope';
  if (spec === '$token') return base64url(actual) && actual.length === 43 ? null : 'a token';
  if (spec.startsWith('$repeat:')) {
    const [count, ...piece] = spec.slice(8).split(':');
    return actual === piece.join(':').repeat(Number(count)) ? null : spec;
  }
  if (spec.startsWith('$ust:')) return actual === ust(vars, spec.slice(5)) ? null : spec;
  if (spec.startsWith('$after:')) {
    const base = parseTimestamp(variable(vars, spec.slice(7)));
    const got = parseTimestamp(actual);
    return got !== null && base !== null && got > base ? null : spec;
  }
  if (spec.startsWith('$var:')) {
    const [name, secs] = spec.slice(5).split('+');
    if (secs !== undefined) {
      const want = formatTimestamp(parseTimestamp(variable(vars, name)) + BigInt(secs) * 1_000_000n);
      return actual === want ? null : `${want} (${spec})`;
    }
    return JSON.stringify(variable(vars, name)) === JSON.stringify(actual) ? null : spec;
  }
  throw new Error(`unknown matcher ${spec}`);
}

function check(expected, actual, vars, path, problems) {
  if (typeof expected === 'string' && expected.startsWith('$') && !expected.startsWith('$$')) {
    const want = matcher(expected, actual, vars);
    if (want) problems.push(`${path}: expected ${want}, got ${JSON.stringify(actual)?.slice(0, 200)}`);
  } else if (typeof expected === 'string' && expected.startsWith('$$')) {
    if (actual !== expected.slice(1)) problems.push(`${path}: expected ${expected.slice(1)}`);
  } else if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) {
      problems.push(`${path}: expected an object, got ${JSON.stringify(actual)?.slice(0, 200)}`);
      return;
    }
    // Own keys only: names such as `toString` or `__proto__` are plain keys.
    for (const [key, value] of Object.entries(expected)) {
      if (Object.hasOwn(actual, key)) check(value, actual[key], vars, `${path}.${key}`, problems);
      else problems.push(`${path}.${key}: missing`);
    }
    for (const key of Object.keys(actual)) {
      if (!Object.hasOwn(expected, key)) problems.push(`${path}.${key}: not expected, got ${JSON.stringify(actual[key])?.slice(0, 200)}`);
    }
  } else if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      problems.push(`${path}: expected ${expected.length} items, got ${JSON.stringify(actual)?.slice(0, 200)}`);
      return;
    }
    expected.forEach((e, i) => check(e, actual[i], vars, `${path}[${i}]`, problems));
  } else if (JSON.stringify(expected) !== JSON.stringify(actual)) {
    problems.push(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)?.slice(0, 200)}`);
  }
}

// ---- playing ----

async function send(request, vars) {
  const query = queryString(request, vars);
  const url = `${BASE}${request.path}${query ? `?${query}` : ''}`;
  const headers = { 'cf-connecting-ip': '127.0.0.1', 'content-type': request.content_type ?? 'application/json' };
  let body;
  if (request.body !== undefined) body = JSON.stringify(resolve(request.body, vars));
  if (request.body_raw !== undefined) body = rawBytes(request.body_raw, vars, true);
  const bodyless = request.method === 'GET' || request.method === 'HEAD';
  evidence.request(url, body);
  const response = bodyless && body !== undefined
    ? plain(await handler.handle({ method: request.method, url, headers, body }))
    : await handler.fetch(new Request(url, { method: request.method, headers, body }));
  const text = await response.text();
  evidence.answer(response.status, text);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** A `handle` answer with the parts of a `Response` the checks read. */
function plain({ status, headers, body }) {
  return { status, headers: new Headers(headers), text: async () => body };
}

async function login(name) {
  const [, password] = USERS.find((u) => u[0] === name) ?? [];
  if (!password) throw new Error(`$ust:${name} is not a fixture user`);
  // Over fetch, as a client at 127.0.0.1 would (session details show it).
  const body = { username: name, password, current_app: 'CRM' };
  const answer = await send({ method: 'POST', path: '/zato/sso/user/login', body }, { usts: {}, captured: {} });
  if (answer.status !== 200) throw new Error(`login of ${name}: ${answer.text}`);
  return answer.json.ust;
}

function sessionNames(kase) {
  const text = JSON.stringify(kase.steps.filter((s) => s.request));
  return new Set([...text.matchAll(/\$\{?ust:([A-Za-z0-9_-]+)/g)].map((m) => m[1]));
}

async function playStep(step, vars) {
  if ('advance_secs' in step) {
    offset += step.advance_secs * 1_000_000;
    return [];
  }
  if ('user_command' in step) {
    const [command, username] = step.user_command;
    await handler.users[command]({ username });
    return [];
  }
  stats.requests++;
  const answer = await send(step.request, vars);
  const problems = [];
  if (answer.headers.get('content-type') !== 'application/json') problems.push('content-type is not application/json');
  if (!answer.json || typeof answer.json !== 'object') return [...problems, `not a JSON object: ${answer.text.slice(0, 200)}`];
  if (!/^[0-9a-f]{24}$/.test(answer.json.cid ?? '')) problems.push(`cid: ${answer.json.cid}`);
  for (const [name, pointer] of Object.entries(step.capture ?? {})) {
    const value = pointer.split('/').slice(1).reduce((v, k) => v?.[k.replaceAll('~1', '/').replaceAll('~0', '~')], answer.json);
    if (value === undefined) problems.push(`capture ${name}: nothing at ${pointer}`);
    else vars.captured[name] = value;
  }
  if (answer.status !== step.expect.http) problems.push(`HTTP status: expected ${step.expect.http}, got ${answer.status}`);
  for (const [name, value] of Object.entries(step.expect.headers ?? {})) {
    if (answer.headers.get(name) !== value) problems.push(`header ${name}: expected ${value}, got ${answer.headers.get(name)}`);
  }
  const { cid: _cid, ...actual } = answer.json;
  if (!('message' in step.expect.body)) delete actual.message;
  check(step.expect.body, actual, vars, 'body', problems);
  return problems.length ? [`${step.request.method} ${step.request.path} → ${answer.text.slice(0, 300)}`, ...problems] : [];
}

const files = readdirSync(CASES).filter((f) => f.endsWith('.json')).sort();
for (const file of files) {
  const { cases } = JSON.parse(readFileSync(new URL(file, CASES), 'utf8'));
  test(file, async (t) => {
    for (const kase of cases) {
      const missing = (kase.needs ?? []).filter((n) => !CAPABILITIES.has(n));
      await t.test(kase.name, { skip: missing.length ? `needs ${missing.join(', ')}` : false }, async () => {
        stats.cases++;
        const vars = { usts: {}, captured: {} };
        for (const name of sessionNames(kase)) {
          vars.usts[name] =
            name === 'forged' ? Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url') : await login(name);
        }
        const failures = [];
        for (const [index, step] of kase.steps.entries()) {
          const problems = await playStep(step, vars);
          if (problems.length) failures.push(`step ${index}${step.note ? ` (${step.note})` : ''}:\n    ${problems.join('\n    ')}`);
        }
        assert.equal(failures.length, 0, failures.join('\n'));
      });
      if (missing.length) stats.skipped++;
    }
  });
}

test('the suite is played in full', () => {
  console.log(`conformance (JS handler): ${files.length} files, ${stats.cases} cases played, ${stats.skipped} skipped, ${stats.requests} requests`);
  assert.ok(stats.requests >= MIN_REQUESTS, `only ${stats.requests} requests`);
});
