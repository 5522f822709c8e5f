// The attribute list of the target session: names, then their records
// (`decrypt=false`, so encrypted values stay sealed until asked for), a
// live countdown to each expiry, and a refresh when one runs out (the
// server no longer returns a dead attribute).

import { apiTimeMs, duration, el, shortTime } from './dom.js';
import { PATHS, queryString } from './server.js';

/** Longest query string of one GET (names are sent in chunks under it). */
const MAX_QUERY_CHARS = 6000;

/** Splits `names` into chunks whose `data=` query stays under MAX_QUERY_CHARS. */
export function chunkNames(names) {
  const chunks = [];
  let chunk = [];
  let size = 0;
  for (const name of names) {
    const cost = queryString({ data: name }).length;
    if (chunk.length > 0 && size + cost > MAX_QUERY_CHARS) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(name);
    size += cost;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Longest value shown before "Show all". */
const SHOWN_CHARS = 300;

/** The table of one session's live attributes. */
export class AttributeList {
  /**
   * @param {HTMLElement} root where the table goes
   * @param {{call: Function, onError: Function, onEdit: Function}} hooks
   *   `call(method, path, fields)` adds the session fields and sends.
   */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.attrs = [];
    /** Counts listings: only the newest one's answer is shown. */
    this.generation = 0;
    this.timer = null;
    this.loading = null;
    this.queued = null;
    /** The last listing failed: no automatic re-listing until asked. */
    this.failed = false;
  }

  /** Lists the (new) target session and starts the countdowns. */
  async open() {
    this.attrs = [];
    this.failed = false;
    this.root.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    this.timer ??= setInterval(() => this.tick(), 1000);
    // A listing of the previous target still running is outdated: start
    // afresh (its answer will be ignored).
    this.loading = null;
    this.queued = null;
    await this.refresh();
  }

  /** Stops the countdowns and ignores any listing still running (on sign-out). */
  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.generation += 1;
  }

  /**
   * Lists the session again. While a listing runs, one more is queued to
   * start after it, so that a write made meanwhile is seen.
   */
  refresh({ manual = false } = {}) {
    if (manual) this.failed = false;
    if (this.loading) {
      this.queued ??= this.loading.then(() => {
        this.queued = null;
        return this.refresh();
      });
      return this.queued;
    }
    const loading = this.load().finally(() => {
      if (this.loading === loading) this.loading = null;
    });
    this.loading = loading;
    return loading;
  }

  async load() {
    const generation = ++this.generation;
    try {
      const { result: names } = await this.hooks.call('GET', PATHS.names, {});
      const attrs = [];
      for (const chunk of chunkNames(names)) {
        const { result } = await this.hooks.call('GET', PATHS.attr, { data: chunk, decrypt: false });
        attrs.push(...chunk.map((name) => result[name]).filter(Boolean));
      }
      if (generation !== this.generation) return; // a newer listing (or sign-out) won
      // A value decrypted on screen stays shown while the attribute is unchanged.
      const shown = new Map(this.attrs.filter((a) => a.shown !== null).map((a) => [a.name, a]));
      this.attrs = attrs.map((attr) => {
        const before = shown.get(attr.name);
        const kept = before && before.last_modified === attr.last_modified ? before.shown : null;
        return { ...attr, expiresAt: apiTimeMs(attr.expiration_time), shown: kept, full: false };
      });
      this.failed = false;
      this.render();
    } catch (err) {
      if (generation !== this.generation) return;
      this.failed = true;
      this.root.replaceChildren(el('p', { class: 'muted' }, 'The attributes could not be listed.'));
      this.hooks.onError(err);
    }
  }

  /** Updates the countdowns; lists again once one of them has run out. */
  tick() {
    const now = Date.now();
    for (const cell of this.root.querySelectorAll('[data-expires-at]')) {
      cell.textContent = countdown(Number(cell.dataset.expiresAt), now);
    }
    const due = this.attrs.some((attr) => attr.expiresAt !== null && attr.expiresAt <= now);
    if (due && !this.failed && !this.loading) this.refresh();
  }

  /** Runs a row action with its button disabled (one at a time). */
  async rowAction(button, action) {
    button.disabled = true;
    try {
      await action();
    } catch (err) {
      this.hooks.onError(err);
    } finally {
      button.disabled = false;
    }
  }

  decrypt(attr, button) {
    return this.rowAction(button, async () => {
      const answer = await this.hooks.call('GET', PATHS.attr, { name: attr.name, decrypt: true });
      attr.shown = answer.found ? answer.value : null;
      this.render(`[data-value-of="${CSS.escape(attr.name)}"]`);
    });
  }

  remove(attr, button) {
    return this.rowAction(button, async () => {
      await this.hooks.call('DELETE', PATHS.attr, { name: attr.name });
      await this.refresh();
    });
  }

  /**
   * Draws the table. Focus stays where it was (the same button of the same
   * row), or goes to `focus` (a selector), or to the list's heading when
   * its element is gone.
   */
  render(focus) {
    const active = this.root.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
    this.root.replaceChildren(this.attrs.length === 0
      ? el('p', { class: 'empty' }, 'No live attributes in this session.')
      : this.table());
    const target = focus ?? (active ? `[aria-label="${CSS.escape(active)}"]` : null);
    if (!target) return;
    const element = this.root.querySelector(target);
    if (element) element.focus();
    else document.getElementById('attrs-title')?.focus();
  }

  table() {
    const now = Date.now();
    const rows = this.attrs.map((attr) => el('tr', { dataset: { name: attr.name } },
      el('th', { scope: 'row', 'data-label': 'Name' }, el('code', {}, attr.name)),
      el('td', { 'data-label': 'Value' }, this.valueCell(attr)),
      el('td', { 'data-label': 'Created' }, el('time', { datetime: `${attr.creation_time}Z` }, shortTime(attr.creation_time))),
      el('td', { 'data-label': 'Modified' }, el('time', { datetime: `${attr.last_modified}Z` }, shortTime(attr.last_modified))),
      el('td', { 'data-label': 'Expires' }, attr.expiresAt === null
        ? 'never'
        : el('span', { class: 'countdown', title: shortTime(attr.expiration_time), dataset: { expiresAt: attr.expiresAt } }, countdown(attr.expiresAt, now))),
      el('td', { 'data-label': 'Actions', class: 'actions' },
        el('button', { type: 'button', 'aria-label': `Edit ${attr.name}`, onclick: () => this.hooks.onEdit(attr) }, 'Edit'),
        el('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${attr.name}`, onclick: (event) => this.remove(attr, event.currentTarget) }, 'Delete'))));
    return el('table', { class: 'attrs' },
      el('caption', { class: 'visually-hidden' }, `${this.attrs.length} live attribute(s)`),
      el('thead', {}, el('tr', {}, ...['Name', 'Value', 'Created', 'Modified', 'Expires', 'Actions'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows));
  }

  valueCell(attr) {
    const sealed = attr.is_encrypted && attr.shown === null;
    const badge = attr.is_encrypted ? el('span', { class: 'badge', title: 'stored encrypted (AES-256-GCM)' }, 'encrypted') : null;
    if (sealed) {
      const button = el('button', { type: 'button', 'aria-label': `Decrypt ${attr.name}` }, 'Decrypt');
      button.addEventListener('click', () => this.decrypt(attr, button));
      return el('span', {}, badge, ' ', el('span', { class: 'sealed' }, 'sealed'), ' ', button);
    }
    const text = attr.is_encrypted ? attr.shown : attr.value;
    const long = text.length > SHOWN_CHARS && !attr.full;
    const value = el('span', { class: 'value', tabindex: '-1', 'data-value-of': attr.name }, long ? `${text.slice(0, SHOWN_CHARS)}…` : text);
    const more = long
      ? el('button', {
        type: 'button',
        'aria-label': `Show all of ${attr.name}`,
        onclick: () => {
          attr.full = true;
          this.render(`[data-value-of="${CSS.escape(attr.name)}"]`);
        },
      }, `Show all ${text.length} characters`)
      : null;
    return el('span', {}, badge, badge ? ' ' : null, value, more ? ' ' : null, more);
  }
}

/** `in 4 s` / `expired`. */
function countdown(expiresAt, now) {
  return expiresAt > now ? `in ${duration(expiresAt - now)}` : 'expired';
}
