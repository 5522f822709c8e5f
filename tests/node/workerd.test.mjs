// The example worker (pkg/examples/worker/) built from the packed package
// with the example's own build script and served by the real `workerd`
// binary on loopback: log in over HTTP, then the seed's create request.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { bin, buildWorker, freePort, waitForHttp } from './support.mjs';
import * as evidence from './evidence.mjs';

/** Starts workerd on `port`; resolves once it answers HTTP. */
async function startWorkerd(project, port, env) {
  const child = spawn(bin('workerd'), ['serve', 'config.capnp', '--socket-addr', `http=127.0.0.1:${port}`], {
    cwd: project,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  after(() => {
    child.kill('SIGKILL');
    evidence.log(log);
  });
  await waitForHttp(`http://127.0.0.1:${port}/`, child, () => log);
  return { child, log: () => log };
}

test('the example worker under workerd logs in and answers the seed create with status ok', async () => {
  const project = buildWorker();
  const port = await freePort();
  const passwords = { admin: randomBytes(12).toString('hex'), alice: randomBytes(12).toString('hex') };
  const key = randomBytes(32).toString('base64');
  evidence.secret('key', key);
  for (const password of Object.values(passwords)) evidence.secret('password', password);
  const { log } = await startWorkerd(project, port, {
    SESSATTR_KEYS: JSON.stringify({ keys: [{ id: 'k-test', key, state: 'primary' }] }),
    SESSATTR_USERS: JSON.stringify([
      { username: 'admin', password: passwords.admin, superUser: true },
      { username: 'alice', password: passwords.alice },
    ]),
  });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const text = JSON.stringify(body);
    evidence.request(`${base}${path}`, text);
    const response = await fetch(`${base}${path}`, { method, body: text });
    const answer = await response.text();
    evidence.answer(response.status, answer);
    return { status: response.status, body: JSON.parse(answer) };
  };
  const login = async (username) => {
    const { status, body } = await call('POST', '/zato/sso/user/login', { username, password: passwords[username], current_app: 'CRM' });
    assert.equal(status, 200, JSON.stringify(body));
    return body.ust;
  };
  const [admin, alice] = [await login('admin'), await login('alice')];

  const seed = {
    current_ust: admin, target_ust: alice, current_app: 'CRM',
    name: 'my-rest-attribute', value: 'my-rest-value', encrypt: true, expiration: 3600,
  };
  const created = await call('POST', '/zato/sso/session/attr', seed);
  assert.equal(created.status, 200);
  assert.equal(created.body.status, 'ok');
  assert.match(created.body.cid, /^[0-9a-f]{24}$/);

  const again = await call('POST', '/zato/sso/session/attr', seed);
  assert.equal(again.status, 403);
  assert.deepEqual(again.body.sub_status, ['E009001']);

  const query = new URLSearchParams({ current_ust: admin, target_ust: alice, current_app: 'CRM', name: 'my-rest-attribute' });
  const got = await (await fetch(`${base}/zato/sso/session/attr?${query}`)).json();
  assert.equal(got.value, 'my-rest-value');
  assert.equal(got.is_encrypted, true);

  for (const secret of [passwords.admin, passwords.alice, key, admin, alice, 'my-rest-value']) {
    assert.ok(!log().includes(secret), 'no secret in the workerd log');
  }
});
