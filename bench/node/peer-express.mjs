// The peer app: what a Node.js user would pick instead of sessattr for
// session attributes — Express, express-session and connect-redis on a
// real redis-server, one process (no cluster). A load tool (wrk) drives it
// with the cookies that peer-sessions.mjs makes; the Rust harness compares
// its req/s with the native host's.
//
//   node peer-express.mjs --port P --redis redis://127.0.0.1:PORT
//
// Routes (JSON in, JSON out; the body is read as JSON whatever its
// Content-Type, as the SPEC's API does):
//   POST /login          a new session (`req.session.user`), regenerated so
//                        that a login never keeps a previous id; answers
//                        {"cid","status":"ok"} and the Set-Cookie
//                        `connect.sid=…`
//   POST /attr           {"name","value"}: `req.session.attrs[name] = value`,
//                        saved to Redis before the answer
//                        {"cid","status":"ok"}
//   GET  /attr?name=N    {"cid","status":"ok","value","found":true}, or
//                        {"cid","status":"ok","found":false}
// Without a logged-in session, /attr answers 403 {"status":"error",
// "sub_status":["E007001"]}; a bad body 400 ["E008002"] (the SPEC's codes).
//
// express-session's defaults otherwise, with `resave: false,
// saveUninitialized: false`, a cookie of 60 minutes (the SPEC's session
// lifetime; connect-redis sets the key's TTL from it) and a cookie secret
// from PEER_SESSION_SECRET or, without it, random per process (never
// printed). A read touches the session (EXPIRE), as connect-redis does by
// default.
//
// It prints exactly `listening <port>` on stdout once it accepts
// connections, logs nothing per request (errors only, sampled), and exits
// cleanly (0) on SIGTERM or SIGINT.
import { randomBytes } from 'node:crypto';

import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';

import { fail, flags } from './lib.mjs';

const USAGE = 'node peer-express.mjs --port P --redis redis://127.0.0.1:PORT';
const args = flags({ port: { type: 'string' }, redis: { type: 'string' } }, USAGE);
if (args.port === undefined || args.redis === undefined) fail(`--port and --redis are required\nusage: ${USAGE}`);
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`--port must be a port number (got ${JSON.stringify(args.port)})`);

/** The SPEC's session lifetime, for the cookie and the Redis TTL. */
const SESSION_MS = 60 * 60 * 1000;
/** The request body limit of the SPEC. */
const BODY_LIMIT = '1mb';

/** Errors go to stderr, but only the 1st, 10th, 100th, … of each kind (no log flood under load). */
const seen = new Map();
function logError(kind, err) {
  const count = (seen.get(kind) ?? 0) + 1;
  seen.set(kind, count);
  if (Number.isInteger(Math.log10(count))) process.stderr.write(`peer-express: ${kind} error (${count} so far): ${err?.message ?? err}\n`);
}

/** A Redis URL fit to print: any user name and password taken out. */
function withoutCredentials(url) {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  } catch {
    return '(an unreadable URL)';
  }
}

// At start, Redis must answer within ~5 s; once connected, the client
// reconnects for as long as it takes (requests fail with 503 meanwhile).
let connected = false;
const reconnectStrategy = (retries) => {
  if (connected) return Math.min(50 * (retries + 1), 1000);
  return retries < 25 ? 200 : new Error('no answer');
};
const redis = createClient({ url: args.redis, socket: { connectTimeout: 5000, reconnectStrategy } });
redis.on('error', (err) => logError('redis', err));
try {
  await redis.connect();
  connected = true;
} catch (err) {
  fail(`cannot connect to Redis at ${withoutCredentials(args.redis)}: ${err.message}`);
}

const cid = () => randomBytes(12).toString('hex');
const ok = (res, fields = {}) => res.json({ cid: cid(), status: 'ok', ...fields });
const refuse = (res, http, code) => res.status(http).json({ cid: cid(), status: 'error', sub_status: [code] });

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(
  session({
    store: new RedisStore({ client: redis, prefix: 'sess:' }),
    secret: process.env.PEER_SESSION_SECRET || randomBytes(32).toString('base64url'),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: SESSION_MS },
  }),
);
app.use(express.json({ type: () => true, limit: BODY_LIMIT }));

app.post('/login', (req, res, next) => {
  req.session.regenerate((err) => {
    if (err) return next(err);
    const username = typeof req.body?.username === 'string' ? req.body.username : 'bench-user';
    req.session.user = { username, login_time: new Date().toISOString() };
    req.session.attrs = {};
    ok(res);
  });
});

app.post('/attr', (req, res) => {
  if (!req.session.user) return refuse(res, 403, 'E007001');
  if (req.body !== undefined && (req.body === null || typeof req.body !== 'object' || Array.isArray(req.body))) {
    return refuse(res, 400, 'E008002'); // JSON, but not an object
  }
  const { name, value } = req.body ?? {};
  if (name === undefined || value === undefined) return refuse(res, 403, 'E008003');
  if (typeof name !== 'string' || name === '' || typeof value !== 'string') return refuse(res, 403, 'E008002');
  req.session.attrs ??= {};
  req.session.attrs[name] = value; // express-session saves it to Redis before the answer goes out
  ok(res);
});

app.get('/attr', (req, res) => {
  if (!req.session.user) return refuse(res, 403, 'E007001');
  const { name } = req.query;
  if (name === undefined) return refuse(res, 403, 'E008003');
  if (typeof name !== 'string' || name === '') return refuse(res, 403, 'E008002');
  const attrs = req.session.attrs ?? {};
  if (!Object.hasOwn(attrs, name)) return ok(res, { found: false });
  ok(res, { value: attrs[name], found: true });
});

app.use((req, res) => refuse(res, 404, 'E008001'));
// A body that is not JSON is the client's mistake (400); anything else is ours.
app.use((err, req, res, _next) => {
  if (err.type === 'entity.parse.failed') return refuse(res, 400, 'E008002');
  if (err.type === 'entity.too.large') return refuse(res, 413, 'E008002');
  logError('request', err);
  refuse(res, 503, 'E008004');
});

const server = app.listen(port, '127.0.0.1');
server.once('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.once('listening', () => process.stdout.write(`listening ${server.address().port}\n`));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  try {
    await redis.close();
  } catch {
    // already gone
  }
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
