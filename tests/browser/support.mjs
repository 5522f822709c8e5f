// What the browser tests share: the release host started on a free loopback
// port over a fresh data dir, a static file server for www/dist/ (the
// console as a static folder, no API behind it), and Debian's Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { HOST_BINARY, freePort, waitForHttp } from '../node/support.mjs';
import * as evidence from '../node/evidence.mjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = join(ROOT, 'www', 'dist');
/** Screenshots go here (gitignored: test artifacts, not sources). */
export const ARTIFACTS = join(ROOT, 'tests', 'artifacts', 'console');
const BINARY = HOST_BINARY;

/**
 * The release host (`target/release/sessattr`, or under `$CARGO_TARGET_DIR`) serving on a fresh data dir with `users`
 * ({name: [password, superUser]}) added from the command line first.
 * and `extraArgs` for `serve`. Resolves to `{base, log(), stop()}`; `log()`
 * is everything it printed.
 */
export async function startHost(users, extraArgs = []) {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run cargo xtask build`);
  const dataDir = mkdtempSync(join(tmpdir(), 'sessattr-console-'));
  let output = '';
  for (const [name, [password, superUser]] of Object.entries(users)) {
    evidence.secret('password', password);
    const args = ['--data-dir', dataDir, 'user', 'add', name, '--password-stdin', ...(superUser ? ['--super-user'] : [])];
    const done = spawnSync(BINARY, args, { input: `${password}\n`, encoding: 'utf8' });
    output += done.stdout + done.stderr;
    if (done.status !== 0) throw new Error(`sessattr user add ${name} failed: ${done.stderr}`);
  }
  const port = await freePort();
  const child = spawn(BINARY, ['--data-dir', dataDir, 'serve', '--listen', `127.0.0.1:${port}`, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/console/`, child, () => output);
  return {
    base,
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      evidence.log(output);
      keyFileSecrets(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Records the keys of a data dir's key file for the secrets scan. */
function keyFileSecrets(dataDir) {
  try {
    evidence.secretsIn(JSON.parse(readFileSync(join(dataDir, 'keys.json'), 'utf8')));
  } catch {
    // No key file: nothing to record.
  }
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

/** A plain static file server for www/dist/ (no API): resolves to `{base, stop()}`. */
export async function startStaticServer() {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST} is not built: run cargo xtask build`);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = normalize(join(DIST, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(DIST + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The Chromium on PATH (Debian's `chromium` package). */
function chromiumPath() {
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('Chromium is missing: cargo xtask test installs Debian\'s chromium package (apt-get install chromium)');
}

/**
 * Debian's Chromium, headless, with no sandbox (tests may run as root) and
 * no background networking (this machine's network is closed; Chromium
 * would otherwise keep trying Google's hosts).
 */
export function launchChromium() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-extensions',
    ],
  });
}

/** Saves a full-page screenshot as a test artifact; resolves to its path. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * The WCAG 2.1 A/AA violations axe-core finds on the page as it is now
 * (labels, contrast, roles, keyboard names…), as readable lines.
 */
export async function accessibilityViolations(page) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(`${AXE}\n;undefined`);
  const { violations } = await page.evaluate(() =>
    globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
