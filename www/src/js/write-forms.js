// The two write forms of the Sessions tab: one attribute (create, set,
// update) and a batch of any operation from a JSON textarea.

import { byId, onSubmit, pretty } from './dom.js';
import { PATHS } from './server.js';

const VERBS = { POST: 'Created', PUT: 'Set', PATCH: 'Updated', DELETE: 'Deleted' };

/** A mistake in what was typed, caught before anything is sent; its message is shown as it is. */
export class InputError extends Error {
  constructor(message) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * The fields of the single-write form. An empty expiration or an unsent
 * encryption choice is left out (SPEC 2.2: never / unchanged, plain / keep).
 * The expiration is the number the browser read from the field (it checks
 * 1 … 315 360 000 and whole numbers itself); the server checks it again.
 */
export function singleFields(form) {
  const fields = { name: form.name.value, value: form.value.value };
  if (form.encrypt.value) fields.encrypt = form.encrypt.value === 'true';
  if (form.expiration.value.trim()) fields.expiration = form.expiration.valueAsNumber;
  return fields;
}

/**
 * The fields of a batch: the textarea's JSON, a list (the `data`) or an
 * object with a `data` list and top-level fields such as `encrypt`. `get`
 * and `exists` send their names in the query string, so there `data` must
 * be a list of strings.
 */
export function batchFields(text, namesOnly) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InputError(`The batch is not valid JSON: ${err.message}`);
  }
  const fields = Array.isArray(parsed) ? { data: parsed } : parsed;
  if (fields === null || typeof fields !== 'object' || !Array.isArray(fields.data)) {
    throw new InputError('The batch must be a JSON list (the data), or an object with a "data" list.');
  }
  if (namesOnly && !fields.data.every((name) => typeof name === 'string')) {
    throw new InputError('For get and exists, data is a list of names (strings).');
  }
  return fields;
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
    let count = 0;
    const answer = await guarded(async () => {
      const fields = batchFields(batch.data.value, method === 'GET');
      count = fields.data.length;
      return call(method, path, fields);
    }, () => `${VERBS[method] ?? 'Read'} ${count === 1 ? '1 item' : `${count} items`}: the whole batch succeeded.`);
    output.hidden = !answer;
    output.textContent = answer ? pretty(answer.result ?? { status: answer.status, cid: answer.cid }) : '';
    if (answer && method !== 'GET') await afterWrite();
  });
}
