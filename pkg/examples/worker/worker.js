// A Cloudflare Worker serving the sessattr REST API (SPEC 2).
//
// Bindings (wrangler.toml or config.capnp):
//   SESSATTR_KEYS   the keyring: the content of the host's keys.json,
//                   `{"keys":[{"id":…,"key":…,"state":"primary"}]}` (a secret)
//   SESSATTR_KV     optional Workers KV namespace; without it the records
//                   live in this isolate's memory (a demo: gone on restart)
//   SESSATTR_USERS  optional JSON list of `{username, password, superUser}`
//                   added on first use when missing (a secret; demos and tests —
//                   production adds users with a script over the same store)
import { SessattrError, createHandler, memoryStore, workersKvStore } from 'sessattr';

let ready;

/** The handler for this isolate, made once from the bindings. */
async function handlerFor(env) {
  const { keys } = JSON.parse(env.SESSATTR_KEYS);
  const store = env.SESSATTR_KV ? workersKvStore(env.SESSATTR_KV) : memoryStore();
  const handler = createHandler({ store, keys });
  for (const user of JSON.parse(env.SESSATTR_USERS ?? '[]')) {
    try {
      await handler.users.add(user);
    } catch (err) {
      // E001002: the user is there already (an earlier isolate added it).
      if (!(err instanceof SessattrError && err.code === 'E001002')) throw err;
    }
  }
  return handler;
}

export default {
  async fetch(request, env) {
    ready ??= handlerFor(env).catch((err) => {
      ready = undefined; // try again on the next request
      throw err;
    });
    return (await ready).fetch(request);
  },
};
