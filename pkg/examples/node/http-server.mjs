// The REST API from Node's own HTTP server, GET requests with a JSON body
// included (Zato clients send them; a fetch `Request` cannot hold one, so
// this uses `handler.handle`). `node http-server.mjs [PORT]`; prints the
// address once listening. Users come from SESSATTR_USERS (JSON list of
// {username, password, superUser}), the keyring from SESSATTR_KEYS (the
// content of the host's keys.json).
import { createServer } from 'node:http';

import { createHandler, memoryStore } from 'sessattr';

const handler = createHandler({ store: memoryStore(), keys: JSON.parse(process.env.SESSATTR_KEYS).keys });
for (const user of JSON.parse(process.env.SESSATTR_USERS ?? '[]')) await handler.users.add(user);

/** The body limit (SPEC 3's default); bodies are kept up to one byte over it, enough for `handle` to answer 413. */
const LIMIT = 1 << 20;

/** The request body, at most LIMIT + 1 bytes of it (the rest is drained). */
async function bodyOf(req) {
  const chunks = [];
  let kept = 0;
  for await (const chunk of req) {
    if (kept <= LIMIT) chunks.push(chunk.subarray(0, LIMIT + 1 - kept));
    kept += Math.min(chunk.length, LIMIT + 1 - kept);
  }
  return Buffer.concat(chunks);
}

const server = createServer(async (req, res) => {
  try {
    const declared = Number(req.headers['content-length']);
    // Over the limit by its own word: answer 413 at once, unread, and close.
    const body = declared > LIMIT ? null : await bodyOf(req);
    const answer = await handler.handle({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body,
      remoteAddress: req.socket.remoteAddress,
    });
    if (body === null) res.setHeader('connection', 'close');
    res.writeHead(answer.status, Object.fromEntries(answer.headers)).end(answer.body);
  } catch {
    // The client went away mid-request (or the request was not HTTP we
    // can answer): drop it; the server carries on.
    res.destroy();
  }
});
server.listen(Number(process.argv[2] ?? 8080), '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});
