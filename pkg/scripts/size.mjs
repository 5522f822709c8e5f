// Measures the module's size — raw, gzipped, and after binaryen's wasm-opt
// at each size-oriented level — and rewrites the "Module size" table of
// docs/BENCHMARKS.md. Run by `cargo xtask size` after a build.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';

const root = new URL('../../', import.meta.url);
const module = new URL('pkg/dist/node/sessattr_wasm_bg.wasm', root);
const doc = new URL('docs/BENCHMARKS.md', root);
const wasmOpt = new URL('node_modules/.bin/wasm-opt', new URL('../', import.meta.url)).pathname;
// What the module uses beyond the MVP (wasm-bindgen's externref table, Rust's
// default wasm32 features); never --all-features (stringref, which Node 20 rejects).
const FEATURES = ['--enable-bulk-memory', '--enable-reference-types', '--enable-nontrapping-float-to-int',
  '--enable-sign-ext', '--enable-mutable-globals', '--enable-multivalue'];

const scratch = mkdtempSync(join(tmpdir(), 'sessattr-size-'));
const raw = readFileSync(module);
const rows = [['as built (cargo `wasm-release`: opt-level 3, LTO; wasm-bindgen; no wasm-opt) — **shipped**', raw]];
for (const level of ['-Oz', '-Os', '-O3']) {
  const out = join(scratch, `opt${level}.wasm`);
  execFileSync(wasmOpt, [level, ...FEATURES, module.pathname, '-o', out]);
  rows.push([`wasm-opt ${level} (binaryen 132)`, readFileSync(out)]);
}
const kb = (n) => `${n.toLocaleString('en-US')} B`;
const pct = (n) => `${((n / raw.length - 1) * 100).toFixed(1)} %`;
const table = [
  `Measured ${new Date().toISOString().slice(0, 10)} by \`cargo xtask size\` on module sha256 \`${createHash('sha256').update(raw).digest('hex').slice(0, 16)}…\`.`,
  '',
  '| build | raw | vs shipped | gzip -9 (zlib) | brotli (zlib) |',
  '|---|---:|---:|---:|---:|',
  ...rows.map(([name, bytes]) =>
    `| ${name} | ${kb(bytes.length)} | ${pct(bytes.length)} | ${kb(gzipSync(bytes, { level: 9 }).length)} | ${kb(brotliCompressSync(bytes).length)} |`),
].join('\n');

const BEGIN = '<!-- size:begin -->';
const END = '<!-- size:end -->';
const text = readFileSync(doc, 'utf8');
const [head, rest] = text.split(BEGIN);
if (rest === undefined || !rest.includes(END)) throw new Error(`docs/BENCHMARKS.md lacks the ${BEGIN} … ${END} markers`);
writeFileSync(doc, `${head}${BEGIN}\n${table}\n${END}${rest.split(END)[1]}`);
console.log(table);
