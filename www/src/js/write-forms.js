// The two write forms of the Sessions tab: one attribute (create, set,
// update) and a batch of any operation from a JSON textarea.

import { byId, onSubmit, pretty } from './dom.js';
import { PATHS } from './server.js';

const VERBS = { POST: 'Created', PUT: 'Set', PATCH: 'Updated', DELETE: 'Deleted' };

/**
 * The fields of the single-write form. An empty expiration or an unsent
 * encryption choice is left out (SPEC 2.2: never / unchanged, plain / keep);
 * a non-integer expiration is sent as typed so that the server's own
 * validation answers (E008002), never a silent fix here.
 */
export function singleFields(form) {
  const fields = { name: form.name.value, value: form.value.value };
  if (form.encrypt.value) fields.encrypt = form.encrypt.value === 'true';
  const expiration = form.expiration.value.trim();
  if (expiration) fields.expiration = /^-?\d+$/.test(expiration) ? Number(expiration) : expiration;
  return fields;
}

/**
 * `data` of the batch textarea: a JSON list, or an object with `data`
 * (then its other fields, such as a top-level `encrypt`, are sent too).
 */
export function batchFields(text) {
  const parsed = JSON.parse(text);
  if (Array.isArray(parsed)) return { data: parsed };
  if (parsed && typeof parsed === 'object' && Array.isArray(parsed.data)) return parsed;
  throw new SyntaxError('give a JSON list, or an object with a "data" list');
}

/**
 * Wires both forms. `call(method, path, fields)` adds the session fields and
 * sends; `guarded(task, success)` shows errors; `afterWrite()` re-lists.
 */
export function bindWriteForms({ call, guarded, afterWrite }) {
  const single = byId('write');
  onSubmit(single, async () => {
    const method = single.op.value;
    const fields = singleFields(single);
    const done = await guarded(() => call(method, PATHS.attr, fields), `${VERBS[method]} ${fields.name}.`);
    if (done) {
      single.value.value = '';
      await afterWrite();
    }
  });

  const batch = byId('batch');
  const output = byId('batch-result');
  onSubmit(batch, async () => {
    const [method, which] = batch.op.value.split(' ');
    const path = which === 'exists' ? PATHS.exists : PATHS.attr;
    let fields;
    try {
      fields = batchFields(batch.data.value);
    } catch (err) {
      await guarded(() => Promise.reject(new Error(`the batch is not valid JSON: ${err.message}`)));
      return;
    }
    const answer = await guarded(() => call(method, path, fields),
      `${VERBS[method] ? `${VERBS[method]} ${fields.data.length} item(s)` : 'Read'}: all items succeeded.`);
    output.hidden = !answer;
    if (answer) output.textContent = pretty(answer.result ?? { status: answer.status, cid: answer.cid });
    if (answer && method !== 'GET') await afterWrite();
  });
}
