// The Sessions tab: sign in as a super-user, pick a target session, and
// work on its attributes through the server's REST API.
//
// Every UST lives in this module's memory only (never in localStorage,
// sessionStorage, cookies or the URL of the page).

import { byId, el, maskUsts, onSubmit, pretty, shortTime } from './dom.js';
import { ApiError, PATHS, Server } from './server.js';
import { AttributeList } from './attributes.js';
import { bindWriteForms } from './write-forms.js';

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

/** Runs `task`; shows its ApiError (or any error) in the alert box. Resolves to its result or undefined. */
async function guarded(task, success) {
  try {
    const result = await task();
    if (success) alertBox(success, 'ok');
    return result;
  } catch (err) {
    alertBox(err instanceof ApiError ? err.message : `Unexpected error: ${err.message}`);
    return undefined;
  }
}

/** The fields every attribute call carries. */
function target() {
  return { current_ust: state.me.ust, target_ust: state.targetUst, current_app: state.app };
}

function logExchange({ method, path, fields, status, body }) {
  const log = byId('exchange-log');
  const answer = body ? pretty(body) : '(no JSON answer)';
  log.prepend(el('li', {},
    el('p', {}, el('strong', {}, `${method} ${path}`), ` → HTTP ${status || 'no answer'}`),
    el('pre', { class: 'output' }, `${pretty(maskUsts(fields))}\n\n${answer}`)));
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
  const owner = await guarded(() => server.call('GET', PATHS.user, { ust: login.ust, current_app: app }));
  state = {
    server,
    app,
    me: { username, ust: login.ust, expiration_time: login.expiration_time, isSuperUser: owner?.is_super_user === true },
    sessions: [{ label: `my own session (${username})`, ust: login.ust, mine: true }],
    targetUst: login.ust,
  };
  state.list = new AttributeList(byId('attrs'), {
    call: (method, path, fields) => state.server.call(method, path, { ...target(), ...fields }),
    onError: (err) => alertBox(err.message),
    onEdit: (attr) => editForm(attr),
  });
  byId('signin').hidden = true;
  byId('workspace').hidden = false;
  byId('whoami').textContent = `Signed in as ${username} (${app}); session expires ${shortTime(login.expiration_time)}.`;
  alertBox(state.me.isSuperUser ? '' : `${username} is not a super-user: attribute calls will answer E005001 not allowed.`, 'warn');
  renderSessions();
  await openTarget(login.ust);
  byId('target-pick').focus();
}

async function signOut() {
  if (!state) return;
  const { server, app, sessions } = state;
  state.list.stop();
  state = null;
  // End the sessions this console opened (best effort), then forget them all.
  for (const session of sessions.filter((s) => s.mine || s.loggedInHere)) {
    await server.call('POST', PATHS.logout, { ust: session.ust, current_app: app }).catch(() => {});
  }
  byId('exchange-log').replaceChildren();
  byId('attrs').replaceChildren();
  byId('workspace').hidden = true;
  byId('signin').hidden = false;
  alertBox('Signed out; the console holds no token any more.', 'ok');
  byId('signin-username').focus();
}

function renderSessions() {
  const pick = byId('target-pick');
  pick.replaceChildren(...state.sessions.map((session) =>
    el('option', { value: session.ust, selected: session.ust === state.targetUst }, `${session.label} — …${session.ust.slice(-6)}`)));
}

/** Makes `ust` the target session and lists its attributes. */
async function openTarget(ust) {
  state.targetUst = ust;
  renderSessions();
  const info = await guarded(() => state.server.call('GET', PATHS.session, target()));
  byId('session-info').textContent = info
    ? `Session created ${shortTime(info.creation_time)}, expires ${shortTime(info.expiration_time)}, from ${info.remote_addr || '—'}.`
    : 'This session could not be read.';
  await state.list.open();
}

async function pasteTarget(event) {
  const ust = event.currentTarget.ust.value.trim();
  if (!ust) return;
  event.currentTarget.ust.value = '';
  if (!state.sessions.some((s) => s.ust === ust)) state.sessions.push({ label: 'pasted session', ust });
  await openTarget(ust);
}

async function testLogin(event) {
  const form = event.currentTarget;
  const username = form.username.value.trim();
  const login = await guarded(
    () => state.server.call('POST', PATHS.login, { username, password: form.password.value, current_app: state.app }),
    `Logged in ${username}; their session is now the target.`);
  if (!login) return;
  form.password.value = '';
  state.sessions.push({ label: `${username} (logged in here)`, ust: login.ust, loggedInHere: true });
  await openTarget(login.ust);
}

/** Fills the single-write form from a listed attribute (for set/update). */
function editForm(attr) {
  const form = byId('write');
  form.op.value = 'PUT';
  form.name.value = attr.name;
  // An encrypted value is filled in only once decrypted on screen.
  const sealed = attr.is_encrypted && attr.shown === null;
  form.value.value = attr.is_encrypted ? (attr.shown ?? '') : attr.value;
  form.encrypt.value = '';
  form.expiration.value = '';
  form.value.focus();
  if (sealed) alertBox(`${attr.name} is encrypted and not decrypted here: type its new value (it stays encrypted).`, 'warn');
}

/** Wires the Sessions tab. */
export function startConsole() {
  const server = byId('signin-server');
  if (!/^https?:$/.test(location.protocol)) server.value = 'http://127.0.0.1:17010';
  onSubmit(byId('signin'), signIn);
  byId('signout').addEventListener('click', signOut);
  byId('target-pick').addEventListener('change', (event) => openTarget(event.currentTarget.value));
  onSubmit(byId('target-paste'), pasteTarget);
  onSubmit(byId('test-login-form'), testLogin);
  byId('attrs-refresh').addEventListener('click', () => state?.list.refresh());
  bindWriteForms({
    call: (method, path, fields) => state.server.call(method, path, { ...target(), ...fields }),
    guarded,
    afterWrite: () => state.list.refresh(),
  });
}
