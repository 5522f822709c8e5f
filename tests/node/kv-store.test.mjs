// workersKvStore over a KV-shaped namespace (the documented Workers KV
// interface: get, put with `expiration`, delete, paginated list): the
// adapter pages through list, keeps KV's 60-second minimum expiration, and
// refuses a write set whose preconditions fail here. The same adapter inside
// a real KV implementation (Miniflare's): workers-kv.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createHandler, workersKvStore } from '../../pkg/src/node.js';

/** Workers KV's interface over a Map, listing 3 keys per page. */
function kvNamespace() {
  const data = new Map(); // name → {value, expiration}
  const puts = [];
  return {
    data,
    puts,
    async get(name) {
      return data.get(name)?.value ?? null;
    },
    async put(name, value, options = {}) {
      if (options.expiration !== undefined && options.expiration < Date.now() / 1000 + 60) {
        throw new Error('KV PUT failed: 400 Invalid expiration: must be at least 60 seconds in the future');
      }
      puts.push({ name, options });
      data.set(name, { value, expiration: options.expiration });
    },
    async delete(name) {
      data.delete(name);
    },
    async list({ prefix = '', cursor } = {}) {
      const names = [...data.keys()].filter((n) => n.startsWith(prefix)).sort();
      const start = cursor ? Number(cursor) : 0;
      const keys = names.slice(start, start + 3).map((name) => ({ name }));
      const done = start + 3 >= names.length;
      return { keys, list_complete: done, cursor: done ? undefined : String(start + 3) };
    },
  };
}

test('the attribute API over a Workers KV namespace', async () => {
  const kv = kvNamespace();
  const handler = createHandler({
    store: workersKvStore(kv),
    keys: [{ id: 'k1', key: Buffer.alloc(32, 7).toString('base64'), state: 'primary' }],
    argon2: { m_cost: 64, t_cost: 1, p_cost: 1 },
  });
  await handler.users.add({ username: 'admin', password: 'admin-pw-1', superUser: true });
  const { ust } = await handler.sessions.login({ username: 'admin', password: 'admin-pw-1', current_app: 'CRM' });
  const on = { current_ust: ust, target_ust: ust, current_app: 'CRM' };
  const data = Array.from({ length: 8 }, (_, i) => ({ name: `n${i}`, value: `v${i}`, expiration: i + 1 }));
  await handler.attrs.create({ ...on, data });
  await assert.rejects(handler.attrs.create({ ...on, name: 'n0', value: 'again' }), (e) => e.code === 'E009001');
  assert.equal((await handler.attrs.names(on)).result.length, 8);
  assert.equal((await handler.attrs.get({ ...on, name: 'n3' })).value, 'v3');
  // Attributes expiring in 1..8 s are written with KV's 60 s floor.
  const floor = Math.ceil(Date.now() / 1000) + 59;
  for (const { name, options } of kv.puts.filter((p) => p.name.startsWith('sa:a:'))) {
    assert.ok(options.expiration >= floor, `${name}: ${options.expiration}`);
  }
  await handler.attrs.delete({ ...on, data: ['n0', 'n1'] });
  assert.deepEqual((await handler.attrs.names(on)).result, ['n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
  await handler.sessions.logout({ ust, current_app: 'CRM' });
  assert.deepEqual([...kv.data.keys()].filter((k) => !k.startsWith('sa:user:')), [], 'logout leaves nothing');
});
