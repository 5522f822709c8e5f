# Runs the example worker under the open-source workerd runtime:
#   npm install && npm run build && SESSATTR_KEYS="$(cat keys.json)" npx workerd serve config.capnp
# (listens on 127.0.0.1:8787; `--socket-addr http=HOST:PORT` moves it).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "sessattr", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "sessattr")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.js"),
    (name = "sessattr_wasm_bg.wasm", wasm = embed "dist/sessattr_wasm_bg.wasm"),
  ],
  compatibilityDate = "2026-07-01",
  bindings = [
    (name = "SESSATTR_KEYS", fromEnvironment = "SESSATTR_KEYS"),
    (name = "SESSATTR_USERS", fromEnvironment = "SESSATTR_USERS"),
  ],
);
