// Test support: the npm package as users get it (`npm pack` of pkg/,
// installed with `npm install <tarball>` into a fresh temporary project),
// commands, ports and servers.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The release host binary: under `$CARGO_TARGET_DIR` (relative to the root,
 * as xtask reads it) when set, else under `target/`.
 */
export const HOST_BINARY = resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target', 'release', 'sessattr');
/** The package's folder (its devDependencies hold esbuild, tsc, workerd). */
export const PKG = join(ROOT, 'pkg');
/** A tool from the package's devDependencies. */
export const bin = (name) => join(PKG, 'node_modules', '.bin', name);

/** Runs a command; its stdout. Throws with stderr on a non-zero exit. */
export function sh(program, args, options = {}) {
  return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

/** Packs pkg/ into a fresh folder; the tarball's path. */
export function pack() {
  const dir = mkdtempSync(join(tmpdir(), 'sessattr-pack-'));
  sh('npm', ['pack', '--pack-destination', dir], { cwd: PKG });
  const [name] = readdirSync(dir).filter((file) => file.endsWith('.tgz'));
  return join(dir, name);
}

/**
 * A fresh ESM project (`"type": "module"`) with the tarball installed;
 * its folder. Installing needs no network: the package has no dependencies.
 */
export function projectWith(tarball) {
  const dir = mkdtempSync(join(tmpdir(), 'sessattr-project-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  sh('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: dir });
  return dir;
}

/** A free loopback port. */
export async function freePort() {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Waits until `base` answers HTTP (any status), for up to 20 s; fails early
 * when `child` exits. `log()` is the child's output so far, for the error.
 */
export async function waitForHttp(base, child, log) {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited (${child.exitCode}): ${log()}`);
    try {
      await fetch(base);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${child.spawnfile} did not answer within 20 s: ${log()}`);
}

/** The example worker's folder. */
export const WORKER_EXAMPLE = join(PKG, 'examples', 'worker');

/**
 * The example worker built in a fresh project (the packed package
 * installed) exactly as its `npm run build` does; the project's folder, with
 * `dist/worker.js` and `dist/sessattr_wasm_bg.wasm`.
 */
export function buildWorker() {
  const project = projectWith(pack());
  for (const file of ['worker.js', 'config.capnp']) copyFileSync(join(WORKER_EXAMPLE, file), join(project, file));
  const script = JSON.parse(readFileSync(join(WORKER_EXAMPLE, 'package.json'), 'utf8')).scripts.build;
  const [tool, ...args] = script.split(' ');
  if (tool !== 'esbuild') throw new Error(`the example's build script runs ${tool}, not esbuild`);
  sh(bin('esbuild'), args, { cwd: project });
  return project;
}

/** Imports one of the package's devDependencies (e.g. `miniflare`). */
export async function importDev(name) {
  const path = createRequire(join(PKG, 'package.json')).resolve(name);
  return import(pathToFileURL(path).href);
}
