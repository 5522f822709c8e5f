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

/** Bodies are kept up to one byte over the limit: enough for `handle` to answer 413. */
const KEEP = (1 << 20) + 1;

const server = createServer(async (req, res) => {
  const chunks = [];
  let kept = 0;
  for await (const chunk of req) {
    if (kept < KEEP) chunks.push(chunk.subarray(0, KEEP - kept));
    kept += Math.min(chunk.length, KEEP - kept);
  }
  const answer = await handler.handle({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
  res.writeHead(answer.status, Object.fromEntries(answer.headers)).end(answer.body);
});
server.listen(Number(process.argv[2] ?? 8080), '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});
