// The Sessions tab: sign in as a super-user, pick a target session, and
// work on its attributes through the server's REST API.
//
// Every UST lives in this module's memory only (never in localStorage,
// sessionStorage, cookies or the URL of the page), and sign-out clears
// every trace of the session from the page.

import { byId, el, maskSecrets, onSubmit, pretty, shortTime } from './dom.js';
import { ApiError, PATHS, Server } from './server.js';
import { AttributeList } from './attributes.js';
import { InputError, bindWriteForms } from './write-forms.js';

/** What the console knows while signed in; `null` when signed out. */
let state = null;

/** Shows `message` in the tab's alert box (or hides it when empty). */
function alertBox(message, kind = 'error') {
  const box = byId('console-alert');
  box.hidden = !message;
  box.className = `alert ${kind}`;
  box.textContent = message ?? '';
  if (message && kind === 'error') box.scrollIntoView({ block: 'nearest' });
}

/**
 * Runs `task`, the work of one user action: the alert box is cleared
 * first, then shows the task's error (an ApiError's code and meaning, an
 * InputError's text) or `success` (text, or a function of the result
 * giving it). Resolves to the task's result, or
 * undefined when it failed.
 */
async function guarded(task, success) {
  alertBox('');
  try {
    const result = await task();
    if (success) alertBox(typeof success === 'function' ? success(result) : success, 'ok');
    return result;
  } catch (err) {
    const known = err instanceof ApiError || err instanceof InputError;
    alertBox(known ? err.message : `Unexpected error: ${err.message}`);
    return undefined;
  }
}

/** The session fields every attribute call carries (they win over any typed in a batch). */
function target() {
  return { current_ust: state.me.ust, target_ust: state.targetUst, current_app: state.app };
}

/** Sends an attribute call on the target session. */
function onTarget(method, path, fields) {
  return state.server.call(method, path, { ...fields, ...target() });
}

/** Adds an exchange to "Last requests", USTs and passwords masked. */
function logExchange({ method, path, fields, status, body }) {
  const log = byId('exchange-log');
  const answer = body ? pretty(maskSecrets(body)) : '(no JSON answer)';
  log.prepend(el('li', {},
    el('p', {}, el('strong', {}, `${method} ${path}`), ` → HTTP ${status || 'no answer'}`),
    el('pre', { class: 'output' }, `${pretty(maskSecrets(fields))}\n\n${answer}`)));
  while (log.children.length > 20) log.lastChild.remove();
}

async function signIn(event) {
  const form = event.currentTarget;
  const username = form.username.value.trim();
  const app = form.app.value.trim();
  const server = new Server(form.server.value.trim());
  server.onExchange = (exchange) => logExchange(exchange);
  const login = await guarded(() => server.call('POST', PATHS.login, { username, password: form.password.value, current_app: app }));
  if (!login) return;
  form.password.value = '';
  const owner = await server.call('GET', PATHS.user, { ust: login.ust, current_app: app }).catch(() => null);
  const isSuperUser = owner?.is_super_user === true;
  state = {
    server,
    app,
    me: { username, ust: login.ust },
    sessions: [{ label: `my own session (${username})`, ust: login.ust, mine: true }],
    targetUst: login.ust,
  };
  state.list = new AttributeList(byId('attrs'), {
    call: onTarget,
    onError: (err) => alertBox(err.message),
    onEdit: (attr) => editForm(attr),
  });
  byId('signin').hidden = true;
  byId('workspace').hidden = false;
  const whoami = byId('whoami');
  whoami.textContent = `Signed in as ${username} (${app}); session expires ${shortTime(login.expiration_time)}.`;
  if (!isSuperUser) {
    whoami.append(' ', el('strong', { class: 'warn-text' },
      `${username} is not a super-user: every attribute call answers E005001 not allowed.`));
  }
  renderSessions();
  await openTarget(login.ust);
  byId('target-pick').focus();
}

async function signOut() {
  if (!state) return;
  const { server, app, sessions, list } = state;
  list.stop();
  state = null;
  // End the sessions this console opened, then forget every token and
  // every value shown.
  let unended = 0;
  for (const session of sessions.filter((s) => s.mine || s.loggedInHere)) {
    await server.call('POST', PATHS.logout, { ust: session.ust, current_app: app }).catch(() => { unended += 1; });
  }
  for (const id of ['write', 'batch', 'target-paste', 'test-login-form', 'signin']) byId(id).reset();
  for (const id of ['exchange-log', 'attrs', 'target-pick']) byId(id).replaceChildren();
  for (const id of ['session-info', 'whoami', 'batch-result']) byId(id).textContent = '';
  byId('batch-result').hidden = true;
  byId('test-login').open = false;
  byId('workspace').hidden = true;
  byId('signin').hidden = false;
  alertBox(unended === 0
    ? 'Signed out: the sessions this console opened are ended, and it holds no token any more.'
    : `Signed out here, but ${unended} session(s) could not be ended (the server did not answer): they stay valid until they expire.`,
  unended === 0 ? 'ok' : 'warn');
  byId('signin-username').focus();
}

function renderSessions() {
  const pick = byId('target-pick');
  pick.replaceChildren(...state.sessions.map((session, index) =>
    el('option', { value: String(index), selected: session.ust === state.targetUst }, `${session.label} — …${session.ust.slice(-6)}`)));
}

/** Makes `ust` the target session and lists its attributes. */
async function openTarget(ust) {
  state.targetUst = ust;
  renderSessions();
  // Part of the action that chose the target: its message (or error) stays.
  const info = await state.server.call('GET', PATHS.session, target()).catch((err) => {
    alertBox(err.message);
    return null;
  });
  if (!state) return;
  byId('session-info').textContent = info
    ? `Session created ${shortTime(info.creation_time)}, expires ${shortTime(info.expiration_time)}, from ${info.remote_addr || '—'}.`
    : 'This session could not be read.';
  await state.list.open();
}

async function pasteTarget(event) {
  const ust = event.currentTarget.ust.value.trim();
  if (!ust) return;
  alertBox('');
  event.currentTarget.ust.value = '';
  if (!state.sessions.some((s) => s.ust === ust)) state.sessions.push({ label: 'pasted session', ust });
  await openTarget(ust);
}

async function testLogin(event) {
  const form = event.currentTarget;
  const username = form.username.value.trim();
  const password = form.password.value;
  form.password.value = '';
  const login = await guarded(
    () => state.server.call('POST', PATHS.login, { username, password, current_app: state.app }),
    `Logged in ${username}; their session is now the target.`);
  if (!login || !state) return;
  state.sessions.push({ label: `${username} (logged in here)`, ust: login.ust, loggedInHere: true });
  await openTarget(login.ust);
}

/**
 * Fills the single-write form from a listed attribute, for a set. An
 * encrypted value is decrypted first, so that a set that changes only the
 * expiry does not overwrite the value with an empty one.
 */
async function editForm(attr) {
  let value = attr.is_encrypted ? attr.shown : attr.value;
  if (value === null) {
    const answer = await guarded(() => onTarget('GET', PATHS.attr, { name: attr.name, decrypt: true }));
    if (!answer?.found) return;
    value = answer.value;
  }
  const form = byId('write');
  form.op.value = 'PUT';
  form.name.value = attr.name;
  form.value.value = value;
  form.encrypt.value = '';
  form.expiration.value = '';
  form.value.focus();
}

/** Wires the Sessions tab. */
export function startConsole() {
  onSubmit(byId('signin'), signIn);
  byId('signout').addEventListener('click', signOut);
  byId('target-pick').addEventListener('change', (event) => {
    const session = state?.sessions[Number(event.currentTarget.value)];
    if (!session) return;
    alertBox('');
    openTarget(session.ust);
  });
  onSubmit(byId('target-paste'), pasteTarget);
  onSubmit(byId('test-login-form'), testLogin);
  byId('attrs-refresh').addEventListener('click', () => {
    alertBox('');
    state?.list.refresh({ manual: true });
  });
  bindWriteForms({
    call: onTarget,
    guarded,
    afterWrite: () => state?.list.refresh(),
  });
}
