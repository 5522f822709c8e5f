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
    this.generation = 0;
    this.timer = null;
    this.refreshing = null;
  }

  /** Lists the (new) target session and starts the countdowns. */
  async open() {
    this.attrs = [];
    this.root.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    this.timer ??= setInterval(() => this.tick(), 1000);
    await this.refresh();
  }

  /** Stops the countdowns (on sign-out). */
  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.generation += 1;
  }

  /** Reads the session's attributes again (one refresh at a time). */
  refresh() {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
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
      this.attrs = attrs.map((attr) => ({ ...attr, expiresAt: apiTimeMs(attr.expiration_time), shown: null }));
      this.render();
    } catch (err) {
      if (generation !== this.generation) return;
      this.root.replaceChildren(el('p', { class: 'muted' }, 'The attributes could not be listed.'));
      this.hooks.onError(err);
    }
  }

  /** Updates the countdowns; refreshes once one of them has run out. */
  tick() {
    const now = Date.now();
    for (const cell of this.root.querySelectorAll('[data-expires-at]')) {
      cell.textContent = countdown(Number(cell.dataset.expiresAt), now);
    }
    if (this.attrs.some((attr) => attr.expiresAt !== null && attr.expiresAt <= now)) this.refresh();
  }

  async decrypt(attr, button) {
    button.disabled = true;
    try {
      const answer = await this.hooks.call('GET', PATHS.attr, { name: attr.name, decrypt: true });
      attr.shown = answer.found ? answer.value : null;
      this.render();
      this.root.querySelector(`[data-value-of="${CSS.escape(attr.name)}"]`)?.focus();
    } catch (err) {
      button.disabled = false;
      this.hooks.onError(err);
    }
  }

  async remove(attr) {
    try {
      await this.hooks.call('DELETE', PATHS.attr, { name: attr.name });
      await this.refresh();
    } catch (err) {
      this.hooks.onError(err);
    }
  }

  render() {
    if (this.attrs.length === 0) {
      this.root.replaceChildren(el('p', { class: 'empty' }, 'No live attributes in this session.'));
      return;
    }
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
        el('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${attr.name}`, onclick: () => this.remove(attr) }, 'Delete'))));
    this.root.replaceChildren(el('table', { class: 'attrs' },
      el('caption', { class: 'visually-hidden' }, `${this.attrs.length} live attribute(s)`),
      el('thead', {}, el('tr', {}, ...['Name', 'Value', 'Created', 'Modified', 'Expires', 'Actions'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows)));
  }

  valueCell(attr) {
    const badge = attr.is_encrypted ? el('span', { class: 'badge', title: 'stored encrypted (AES-256-GCM)' }, 'encrypted') : null;
    if (!attr.is_encrypted) return el('span', { class: 'value', tabindex: '-1', 'data-value-of': attr.name }, attr.value);
    if (attr.shown !== null) {
      return el('span', {}, badge, ' ', el('span', { class: 'value', tabindex: '-1', 'data-value-of': attr.name }, attr.shown));
    }
    const button = el('button', { type: 'button', 'aria-label': `Decrypt ${attr.name}` }, 'Decrypt');
    button.addEventListener('click', () => this.decrypt(attr, button));
    return el('span', {}, badge, ' ', el('span', { class: 'sealed' }, 'sealed'), ' ', button);
  }
}

/** `in 4 s` / `expired`. */
function countdown(expiresAt, now) {
  return expiresAt > now ? `in ${duration(expiresAt - now)}` : 'expired';
}
