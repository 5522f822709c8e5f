// Small DOM and formatting helpers shared by the console's views.

/**
 * Creates an element: `el('button', {class: 'x', onclick: f}, 'text', child)`.
 * Attributes whose value is `false`, `null` or `undefined` are left out;
 * `on*` functions become listeners. Text children are text nodes (never HTML).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** The element of `id`; throws when the page lacks it (a broken page, loudly). */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`console: no element #${id}`);
  return node;
}

/** The "never expires" timestamp of the API (SPEC 2.2). */
export const NEVER = '9999-12-31T00:00:00.000000';

/** Unix milliseconds of an API timestamp (UTC, no offset, microseconds); null for "never". */
export function apiTimeMs(text) {
  if (!text || text === NEVER) return null;
  const ms = Date.parse(`${text.slice(0, 23)}Z`);
  return Number.isNaN(ms) ? null : ms;
}

/** `2026-12-04 08:30:12 UTC` from an API timestamp ("never" for the far future). */
export function shortTime(text) {
  if (!text) return '—';
  if (text === NEVER) return 'never';
  return `${text.slice(0, 10)} ${text.slice(11, 19)} UTC`;
}

/** `4 s`, `3 min 05 s`, `2 h 04 min`, `12 d 3 h` for a positive number of milliseconds. */
export function duration(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Pretty JSON for display. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** Fields that hold a UST. */
const UST_FIELDS = ['current_ust', 'target_ust', 'ust'];

/**
 * A copy of `value` (a request's fields or an answer, nested objects and
 * lists too) for on-screen logs: every UST shown as `‹UST …last6›`, every
 * password as `‹password›`.
 */
export function maskSecrets(value) {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  const masked = {};
  for (const [name, field] of Object.entries(value)) {
    if (name === 'password') masked[name] = '‹password›';
    else if (UST_FIELDS.includes(name) && typeof field === 'string') masked[name] = `‹UST …${field.slice(-6)}›`;
    else masked[name] = maskSecrets(field);
  }
  return masked;
}

/**
 * Handles `form`'s submit with `handler(event)` (called at once, so
 * `event.currentTarget` is still set), one submission at a time: while it
 * runs the form is `aria-busy` and its submit buttons are disabled, so a
 * double click sends one request, not two.
 */
export function onSubmit(form, handler) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (form.getAttribute('aria-busy') === 'true') return;
    const buttons = [...form.querySelectorAll('button[type="submit"]')].filter((b) => !b.disabled);
    form.setAttribute('aria-busy', 'true');
    for (const button of buttons) button.disabled = true;
    try {
      await handler(event);
    } finally {
      form.removeAttribute('aria-busy');
      for (const button of buttons) button.disabled = false;
    }
  });
}
