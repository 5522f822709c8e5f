// The packed npm package, installed into a fresh project as a user would:
// its contents, `import` and `require`, the module's bytes, the types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';

import { HOST_BINARY, PKG, bin, pack, projectWith, sh } from './support.mjs';

const tarball = pack();
const project = projectWith(tarball);
const examples = join(PKG, 'examples');
const MODULE = 'package/dist/node/sessattr_wasm_bg.wasm';

test('the tarball holds the sources, the types, the CommonJS entry and the module — nothing else', () => {
  const files = sh('tar', ['-tzf', tarball]).trim().split('\n').sort();
  assert.ok(files.includes(MODULE));
  for (const file of ['package/package.json', 'package/README.md', 'package/cjs/node.cjs', 'package/cjs/index.d.cts',
    'package/types/index.d.ts', 'package/types/portable.d.ts', 'package/src/node.js', 'package/src/workerd.js',
    'package/src/browser.js', 'package/src/portable.js']) {
    assert.ok(files.includes(file), `${file} is packed`);
  }
  const stray = files.filter((f) => !/^package\/(package\.json|README\.md|LICENSE|src\/[^/]+\.js|types\/[^/]+\.d\.ts|cjs\/(node\.cjs|index\.d\.cts)|dist\/node\/sessattr_wasm_bg\.wasm)$/.test(f));
  assert.deepEqual(stray, [], 'no test, example, tool or glue file is shipped');
});

test('the module in the tarball has the bytes the native host runs (sessattr module-info)', () => {
  const packed = sh('tar', ['-xzOf', tarball, MODULE], { encoding: 'buffer' });
  const host = JSON.parse(sh(HOST_BINARY, ['module-info', '--json']));
  assert.equal(host.module, '(built-in)');
  assert.equal(host.bytes, packed.length);
  assert.equal(createHash('sha256').update(packed).digest('hex'), host.sha256);
});

/** Runs an example of pkg/examples/node/ inside the project. */
function runExample(file) {
  copyFileSync(join(examples, 'node', file), join(project, file));
  return sh('node', [file], { cwd: project }).trim().split('\n');
}

const QUICKSTART_OUTPUT = [
  'my-rest-attribute = my-rest-value (encrypted: true)',
  'second create refused: E009001 (HTTP 403)',
];

test('import: the ESM quick start runs against the installed package', () => {
  assert.deepEqual(runExample('quickstart.mjs'), QUICKSTART_OUTPUT);
});

test('require: the CommonJS quick start runs against the installed package', () => {
  assert.deepEqual(runExample('quickstart.cjs'), QUICKSTART_OUTPUT);
});

test('require and import resolve to their own entry files', () => {
  const script = "console.log(require.resolve('sessattr')); import('sessattr').then((m) => console.log(typeof m.createHandler))";
  const [resolved, kind] = sh('node', ['--input-type=commonjs', '-e', script], { cwd: project }).trim().split('\n');
  assert.match(resolved, /node_modules\/sessattr\/cjs\/node\.cjs$/);
  assert.equal(kind, 'function');
  const esm = sh('node', ['--input-type=module', '-e', "console.log(import.meta.resolve('sessattr'))"], { cwd: project });
  assert.match(esm.trim(), /node_modules\/sessattr\/src\/node\.js$/);
});

test('TypeScript: the typed example passes tsc --noEmit (ESM and CommonJS declarations)', () => {
  for (const file of readdirSync(join(examples, 'typed'))) copyFileSync(join(examples, 'typed', file), join(project, file));
  sh(bin('tsc'), ['-p', project]);
});

test('TypeScript: each misuse in the typed example is a type error', () => {
  copyFileSync(join(examples, 'typed', 'misuse.ts'), join(project, 'misuse.ts'));
  const source = readFileSync(join(project, 'misuse.ts'), 'utf8').split('\n');
  const marked = source.flatMap((line, i) => (line.includes('// error:') ? [i + 1] : []));
  assert.ok(marked.length >= 4);
  const args = ['--ignoreConfig', '--strict', '--noEmit', '--target', 'es2022', '--module', 'nodenext',
    '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', '--types', '', 'misuse.ts'];
  let output = '';
  try {
    sh(bin('tsc'), args, { cwd: project });
  } catch (err) {
    output = err.stdout;
  }
  const failing = [...new Set([...output.matchAll(/^misuse\.ts\((\d+),\d+\): error/gm)].map((m) => Number(m[1])))];
  assert.deepEqual(failing.sort((a, b) => a - b), marked);
});

/** Deno without update checks, its cache inside the project. */
const DENO_ENV = { ...process.env, DENO_NO_UPDATE_CHECK: '1', DENO_DIR: join(project, '.deno') };

test('Deno: the quick start runs with npm resolution from node_modules', () => {
  copyFileSync(join(examples, 'node', 'quickstart.mjs'), join(project, 'quickstart.mjs'));
  const out = sh(bin('deno'), ['run', '--allow-read', 'quickstart.mjs'], { cwd: project, env: DENO_ENV });
  assert.deepEqual(out.trim().split('\n'), QUICKSTART_OUTPUT);
});

/** A script that round-trips one encrypted attribute through `createHandler`. */
const ROUND_TRIP = (entry, extra = '') => `
import { createHandler, memoryStore } from ${JSON.stringify(entry)};
const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const handler = createHandler({ store: memoryStore(), keys: [{ id: 'k1', key, state: 'primary' }],
  argon2: { m_cost: 64, t_cost: 1, p_cost: 1 } ${extra} });
await handler.users.add({ username: 'admin', password: 'admin-pw-1', superUser: true });
const { ust } = await handler.sessions.login({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' });
const target = { current_ust: ust, target_ust: ust, current_app: 'CRM' };
await handler.attrs.create({ ...target, name: 'n', value: 'round trip', encrypt: true });
console.log((await handler.attrs.get({ ...target, name: 'n' })).value);
`;

test('the browser entry fetches and compiles the module next to it (run in Deno, whose fetch reads file: URLs)', () => {
  const script = ROUND_TRIP('./node_modules/sessattr/src/browser.js');
  const out = sh(bin('deno'), ['eval', '--ext=js', script], { cwd: project, env: DENO_ENV });
  assert.equal(out.trim(), 'round trip');
});

test('sessattr/portable runs the module it is handed (bytes) and refuses to start without one', () => {
  const script = `import { readFileSync } from 'node:fs';
${ROUND_TRIP('sessattr/portable', ", module: readFileSync(new URL('./node_modules/sessattr/dist/node/sessattr_wasm_bg.wasm', import.meta.url))")}
try { createHandler({ store: memoryStore() }); } catch (err) { console.log(err.name); }`;
  const out = sh('node', ['--input-type=module', '-e', script], { cwd: project });
  assert.deepEqual(out.trim().split('\n'), ['round trip', 'TypeError']);
});

/** An HTTP/1.1 request with node:http — which, unlike fetch, sends a GET body. */
function request(port, method, path, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  // Content-Length as Zato's Python clients send it (node:http would send a
  // GET body with no framing at all).
  const headers = { 'content-length': Buffer.byteLength(text) };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let answer = '';
      res.on('data', (d) => (answer += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, type: res.headers['content-type'], body: JSON.parse(answer) });
        } catch {
          reject(new Error(`${method} ${path}: HTTP ${res.statusCode}, not JSON: ${answer.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** Writes `text` on a fresh socket, reads for `ms`, then destroys the socket; what was read. */
function rawExchange(port, text, ms) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let got = '';
    socket.on('data', (d) => (got += d));
    socket.on('error', () => {});
    setTimeout(() => {
      socket.destroy();
      resolve(got);
    }, ms);
  });
}

test('node:http example: the REST API with Zato-style GET bodies, and 413 over the body limit', async () => {
  copyFileSync(join(examples, 'node', 'http-server.mjs'), join(project, 'http-server.mjs'));
  const env = {
    ...process.env,
    SESSATTR_KEYS: JSON.stringify({ keys: [{ id: 'k1', key: randomBytes(32).toString('base64'), state: 'primary' }] }),
    SESSATTR_USERS: JSON.stringify([{ username: 'admin', password: 'admin-pw-1', superUser: true }]),
  };
  const child = spawn('node', ['http-server.mjs', '0'], { cwd: project, env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = await once(child.stdout, 'data');
    const port = Number(String(line).match(/:(\d+)/)[1]);
    const login = await request(port, 'POST', '/zato/sso/user/login', { username: 'admin', password: 'admin-pw-1', current_app: 'CRM' });
    assert.equal(login.status, 200);
    const on = { current_ust: login.body.ust, target_ust: login.body.ust, current_app: 'CRM' };
    const created = await request(port, 'POST', '/zato/sso/session/attr', { ...on, name: 'n', value: 'v', encrypt: true });
    assert.deepEqual([created.status, created.type, created.body.status], [200, 'application/json', 'ok']);
    const got = await request(port, 'GET', '/zato/sso/session/attr', { ...on, name: 'n' });
    assert.deepEqual([got.status, got.body.value, got.body.is_encrypted], [200, 'v', true]);
    const big = await request(port, 'POST', '/zato/sso/session/attr', { ...on, name: 'big', value: 'x'.repeat(2 << 20) });
    assert.equal(big.status, 413);
    assert.deepEqual(big.body.sub_status, ['E008002']);

    // A body declared over the limit is answered at once, unread.
    const declared = await rawExchange(port, 'POST /zato/sso/session/attr HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n', 2_000);
    assert.match(declared, /^HTTP\/1\.1 413 /);
    // A client that disconnects mid-body harms nobody: the server answers the next request.
    await rawExchange(port, 'POST /zato/sso/session/attr HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}', 300);
    const after = await request(port, 'POST', '/zato/sso/user/login', { username: 'admin', password: 'admin-pw-1', current_app: 'CRM' });
    assert.equal(after.status, 200);
    assert.equal(child.exitCode, null, 'the server is still running');
  } finally {
    child.kill();
  }
});
