// Cross-runtime records: attributes written by one face of sessattr (the npm
// package in Node, or the native host over HTTP), moved as a records
// document (`sessattr store export` / `memoryStore().exportRecords()`), and
// read back by the other face with the same key.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createHandler, memoryStore } from '../../pkg/src/node.js';
import { freePort, waitForHttp } from '../node/support.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The release host binary, as `cargo xtask build` leaves it. */
export const HOST = join(ROOT, 'target/release/sessattr');
/** Ten years: the sessions of a vector outlive the vector file. */
export const LIFETIME = 315_360_000;
const APP = 'CRM';
const ATTR = '/zato/sso/session/attr';

/** The attributes every vector holds: plain, encrypted, expiring, odd values. */
export const ATTRIBUTES = [
  { name: 'theme', value: 'dark' },
  { name: 'card', value: '4111 1111 1111 1111', encrypt: true },
  { name: 'cart', value: '{"items":[1,2,3]}', encrypt: true, expiration: LIFETIME },
  { name: 'greeting', value: 'Grüße, 世界 🌍', encrypt: true },
  { name: 'empty', value: '', encrypt: true },
];

/** A fresh keyring entry. */
export const freshKey = () => ({ id: `k-${randomBytes(4).toString('hex')}`, key: randomBytes(32).toString('base64'), state: 'primary' });

/** A fresh pair of users with random passwords. */
const freshUsers = () => ({ admin: `admin-${randomBytes(8).toString('hex')}`, alice: `alice-${randomBytes(8).toString('hex')}` });

/**
 * A vector made by the npm package: `{made_by, key, session_lifetime,
 * passwords, admin_ust, alice_ust, attributes, records}`.
 */
export async function makeWithJs(key = freshKey()) {
  const store = memoryStore();
  const handler = createHandler({ store, keys: [key], sessionLifetime: LIFETIME });
  const passwords = freshUsers();
  await handler.users.add({ username: 'admin', password: passwords.admin, superUser: true });
  await handler.users.add({ username: 'alice', password: passwords.alice });
  const login = async (username) => (await handler.sessions.login({ username, password: passwords[username], current_app: APP })).ust;
  const [admin, alice] = [await login('admin'), await login('alice')];
  const target = { current_ust: admin, target_ust: alice, current_app: APP };
  for (const attr of ATTRIBUTES) await handler.attrs.create({ ...target, ...attr });
  return vector('npm package (Node.js)', key, passwords, admin, alice, store.exportRecords());
}

/** A vector made by the native host over HTTP, then `sessattr store export`. */
export async function makeWithHost(key = freshKey()) {
  const dataDir = dataDirWith(key);
  const passwords = freshUsers();
  for (const [username, flags] of [['admin', ['--super-user']], ['alice', []]]) {
    execFileSync(HOST, ['--data-dir', dataDir, 'user', 'add', username, ...flags, '--password-stdin'], {
      input: `${passwords[username]}\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  }
  const server = await startHost(dataDir);
  let admin, alice;
  try {
    const login = async (username) => (await server.call('POST', '/zato/sso/user/login', { username, password: passwords[username], current_app: APP })).ust;
    [admin, alice] = [await login('admin'), await login('alice')];
    for (const attr of ATTRIBUTES) {
      await server.call('POST', ATTR, { current_ust: admin, target_ust: alice, current_app: APP, ...attr });
    }
  } finally {
    await server.stop();
  }
  const file = join(dataDir, 'export.json');
  execFileSync(HOST, ['--data-dir', dataDir, 'store', 'export', '--output', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  return vector('native host (wasmtime, redb)', key, passwords, admin, alice, JSON.parse(readFileSync(file, 'utf8')));
}

function vector(madeBy, key, passwords, admin, alice, records) {
  return { made_by: madeBy, key, session_lifetime: LIFETIME, passwords, admin_ust: admin, alice_ust: alice, attributes: ATTRIBUTES, records };
}

/**
 * Reads a vector's attributes with the npm package: `{attributes: [{name,
 * value, is_encrypted}], login}` where `login` says whether alice's password
 * (hashed by the maker) is accepted.
 */
export async function readWithJs(v) {
  const store = memoryStore();
  await store.importRecords(v.records);
  const handler = createHandler({ store, keys: [v.key], sessionLifetime: v.session_lifetime });
  const target = { current_ust: v.admin_ust, target_ust: v.alice_ust, current_app: APP };
  const attributes = [];
  for (const { name } of v.attributes) {
    const { value, is_encrypted: isEncrypted } = await handler.attrs.get({ ...target, name });
    attributes.push({ name, value, is_encrypted: isEncrypted });
  }
  const login = await handler.sessions.login({ username: 'alice', password: v.passwords.alice, current_app: APP });
  return { attributes, login: typeof login.ust === 'string' };
}

/** Reads a vector's attributes with the native host: `sessattr store import`, then HTTP. */
export async function readWithHost(v) {
  const dataDir = dataDirWith(v.key);
  const file = join(dataDir, 'import.json');
  writeFileSync(file, JSON.stringify(v.records), { mode: 0o600 });
  execFileSync(HOST, ['--data-dir', dataDir, 'store', 'import', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const server = await startHost(dataDir, v.session_lifetime);
  try {
    const attributes = [];
    for (const { name } of v.attributes) {
      const query = new URLSearchParams({ current_ust: v.admin_ust, target_ust: v.alice_ust, current_app: APP, name });
      const { value, is_encrypted: isEncrypted } = await server.call('GET', `${ATTR}?${query}`);
      attributes.push({ name, value, is_encrypted: isEncrypted });
    }
    const login = await server.call('POST', '/zato/sso/user/login', { username: 'alice', password: v.passwords.alice, current_app: APP });
    return { attributes, login: typeof login.ust === 'string' };
  } finally {
    await server.stop();
  }
}

/** A fresh data directory (0700) whose key file (0600) holds `key`. */
function dataDirWith(key) {
  const dir = mkdtempSync(join(tmpdir(), 'sessattr-vector-'));
  writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys: [key] }), { mode: 0o600 });
  return dir;
}

/**
 * Starts `sessattr serve` on `dataDir` with sessions of `lifetime` seconds;
 * `call(method, path, body)` answers the parsed ok body.
 */
async function startHost(dataDir, lifetime = LIFETIME) {
  const port = await freePort();
  const child = spawn(HOST, ['--data-dir', dataDir, 'serve', '--listen', `127.0.0.1:${port}`, '--session-lifetime', String(lifetime)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const response = await fetch(`${base}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await response.json();
    if (answer.status !== 'ok') throw new Error(`${method} ${path}: ${response.status} ${answer.sub_status}`);
    return answer;
  };
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitForHttp(`${base}/`, child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { call, stop, log: () => log };
}
