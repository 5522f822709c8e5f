// A typed use of the package, checked by `tsc --noEmit` in the tests: an
// express-style route over the operations, and a store of one's own.
import {
  type Attribute,
  type Store,
  type WriteOp,
  SessattrError,
  createHandler,
  memoryStore,
} from 'sessattr';

/** A store of one's own: here a Map, standing in for a database client. */
class MapStore implements Store {
  readonly #records = new Map<string, string>();

  async get(keys: string[]): Promise<(string | null)[]> {
    return keys.map((key) => this.#records.get(key) ?? null);
  }

  async scan(prefix: string): Promise<[string, string][]> {
    return [...this.#records].filter(([key]) => key.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1));
  }

  async apply(ops: WriteOp[]): Promise<boolean> {
    const holds = ops.every(({ key, expect }) =>
      expect === 'any' ? true : expect === 'absent' ? !this.#records.has(key) : this.#records.get(key) === expect.value,
    );
    if (!holds) return false;
    for (const { key, action } of ops) {
      if (action === 'delete') this.#records.delete(key);
      else if (action !== 'check' && 'put' in action) this.#records.set(key, action.put.value);
    }
    return true;
  }
}

const handler = createHandler({
  store: Math.random() < 2 ? new MapStore() : memoryStore(),
  keys: [{ id: 'k1', key: btoa('0123456789abcdef0123456789abcdef'), state: 'primary' }],
  apps: ['CRM'],
  limits: { value_max_bytes: 4096 },
  sessionLifetime: 900,
});

/** What an HTTP layer of one's own would call. */
export async function readAttribute(currentUst: string, targetUst: string, name: string): Promise<Attribute | null> {
  try {
    const answer = await handler.attrs.get({ current_ust: currentUst, target_ust: targetUst, current_app: 'CRM', name });
    return answer.found ? answer : null;
  } catch (err) {
    if (err instanceof SessattrError && err.code === 'E007001') return null;
    throw err;
  }
}

export async function storeMany(currentUst: string, targetUst: string): Promise<void> {
  await handler.attrs.set({
    current_ust: currentUst,
    target_ust: targetUst,
    current_app: 'CRM',
    data: [
      { name: 'theme', value: 'dark' },
      { name: 'cart', value: '[]', encrypt: true, expiration: 600 },
    ],
  });
  const { result } = await handler.attrs.names({ current_ust: currentUst, target_ust: targetUst, current_app: 'CRM' });
  const names: string[] = result;
  void names;
}

export const worker: { fetch(request: Request): Promise<Response> } = handler;
