// The npm package as users get it: `npm pack` of pkg/, installed with
// `npm install <tarball>` into a fresh temporary project.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
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
