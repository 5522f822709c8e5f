// The Playground tab: the sessattr module running in this page (the npm
// package's browser build over memoryStore()), no server. Each request shows
// the request JSON, the response JSON and the records it changed.

import { ABI_VERSION, createHandler, memoryStore } from '../vendor/sessattr/src/browser.js';
import { byId, el, onSubmit, pretty } from './dom.js';
import { describeError } from './codes.js';

const ATTR = '/zato/sso/session/attr';
const USERS = { admin: 'admin-playground-password', alice: 'alice-playground-password' };

/** The playground's world: a handler over a fresh store, two users, two sessions. */
async function makeWorld() {
  const key = new Uint8Array(32);
  crypto.getRandomValues(key);
  const store = memoryStore();
  const handler = createHandler({
    store,
    keys: [{ id: 'playground', key: btoa(String.fromCharCode(...key)), state: 'primary' }],
  });
  await handler.users.add({ username: 'admin', password: USERS.admin, superUser: true });
  await handler.users.add({ username: 'alice', password: USERS.alice });
  const login = async (username) => (await handler.sessions.login({ username, password: USERS[username], current_app: 'CRM' })).ust;
  return { store, handler, adminUst: await login('admin'), aliceUst: await login('alice') };
}

/** The example requests: [method, path, body]. */
function examples({ adminUst, aliceUst }) {
  const on = { current_ust: adminUst, target_ust: aliceUst, current_app: 'CRM' };
  return {
    create: ['POST', ATTR, { ...on, name: 'my-attr', value: 'my-value', encrypt: true, expiration: 3600 }],
    get: ['GET', ATTR, { ...on, name: 'my-attr' }],
    getRaw: ['GET', ATTR, { ...on, name: 'my-attr', decrypt: false }],
    set: ['PUT', ATTR, { ...on, name: 'my-attr', value: 'a new value' }],
    update: ['PATCH', ATTR, { ...on, name: 'my-attr', value: 'updated', encrypt: false, expiration: 60 }],
    exists: ['GET', `${ATTR}/exists`, { ...on, data: ['my-attr', 'other'] }],
    names: ['GET', `${ATTR}/names`, on],
    batch: ['POST', ATTR, { ...on, data: [{ name: 'colour', value: 'blue' }, { name: 'token', value: 's3cret', encrypt: true }] }],
    delete: ['DELETE', ATTR, { ...on, name: 'my-attr' }],
  };
}

/** What changed between two `exportRecords()` documents. */
export function recordChanges(before, after) {
  const old = new Map(before.records.map((r) => [r.key, r]));
  const changes = [];
  for (const record of after.records) {
    const previous = old.get(record.key);
    old.delete(record.key);
    if (!previous) changes.push({ change: 'added', ...record });
    else if (previous.value !== record.value || previous.expires_at !== record.expires_at) changes.push({ change: 'changed', ...record });
  }
  for (const record of old.values()) changes.push({ change: 'removed', ...record });
  return changes.sort((a, b) => a.key.localeCompare(b.key));
}

/** A record's JSON, parsed for display (as stored when it is not JSON). */
function recordView(value) {
  try {
    return pretty(JSON.parse(value));
  } catch {
    return value;
  }
}

function renderChanges(changes) {
  const root = byId('pg-records');
  if (changes.length === 0) {
    root.replaceChildren(el('p', { class: 'empty' }, 'No record changed.'));
    return;
  }
  root.replaceChildren(...changes.map((record) => el('article', { class: `record ${record.change}` },
    el('p', {}, el('span', { class: `badge ${record.change}` }, record.change), ' ', el('code', {}, record.key)),
    record.expires_at === null ? null : el('p', { class: 'muted' }, `store may drop it at ${new Date(record.expires_at / 1000).toISOString()}`),
    record.change === 'removed' ? null : el('pre', { class: 'output', tabindex: '0' }, recordView(record.value)))));
}

/** Wires the Playground tab; resolves once the module is running. */
export async function startPlayground() {
  const status = byId('pg-status');
  const form = byId('pg-form');
  const send = byId('pg-send');
  let world;
  const fill = (name) => {
    const [method, path, body] = examples(world)[name];
    form.querySelector('#pg-method').value = method;
    byId('pg-path').value = path;
    byId('pg-body').value = pretty(body);
  };
  const start = async () => {
    send.disabled = true;
    const started = performance.now();
    world = await makeWorld();
    status.textContent = `Module running in this page (ABI ${ABI_VERSION}), ready in ${Math.round(performance.now() - started)} ms: ` +
      'users admin and alice are logged in; examples below use their USTs.';
    renderChanges([]);
    byId('pg-request').textContent = '';
    byId('pg-response').textContent = '';
    send.disabled = false;
  };
  try {
    await start();
  } catch (err) {
    status.textContent = `The module could not start in this browser: ${err.message}`;
    return;
  }
  fill('create');
  for (const button of form.querySelectorAll('[data-example]')) {
    button.addEventListener('click', () => fill(button.dataset.example));
  }
  const reset = byId('pg-reset');
  reset.addEventListener('click', async () => {
    reset.disabled = true;
    try {
      await start();
      fill('create');
    } finally {
      reset.disabled = false;
    }
  });
  onSubmit(form, async () => {
    const method = byId('pg-method').value;
    const path = byId('pg-path').value.trim();
    const text = byId('pg-body').value;
    let shown;
    try {
      shown = JSON.parse(text);
    } catch {
      shown = text; // sent as typed: the module answers 400 E008002
    }
    byId('pg-request').textContent = `${method} ${path}\n\n${typeof shown === 'string' ? shown : pretty(shown)}`;
    const before = world.store.exportRecords();
    const answer = await world.handler.handle({ method, url: path, headers: {}, body: text });
    let body;
    try {
      body = JSON.parse(answer.body);
    } catch {
      body = answer.body;
    }
    const note = body?.status === 'error' ? `\n\n${describeError(answer.status, body)}` : '';
    byId('pg-response').textContent = `HTTP ${answer.status}\n\n${pretty(body)}${note}`;
    renderChanges(recordChanges(before, world.store.exportRecords()));
  });
}
