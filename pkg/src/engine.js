// The module through its raw host ABI (docs/abi.md), exactly as the native
// host runs it: one `.wasm` for every runtime, every import a stub that throws
// (the ABI never calls one), entropy and time passed in by the caller.
import { base64, utf8 } from './encoding.js';
import { SessattrError } from './errors.js';

export { base64 } from './encoding.js';

/** The step-protocol version this package speaks. */
export const ABI_VERSION = 5;
/** Retries after a lost race (a failed precondition), as the host. */
export const MAX_RETRIES = 16;
/** Times in a row one operation may ask to be run again (`run_again`). */
const MAX_AGAIN = 3;
/** Steps of one attempt before the module is deemed stuck. */
const MAX_STEPS = 32;

/** The host's fixed text for a failed or contended store. */
const STORE_UNAVAILABLE = 'the store is unavailable; nothing was written';

/**
 * A store call whose answer `check` accepts (it throws a TypeError for
 * anything else); a failure or a malformed answer becomes a 503 E008004
 * carrying the cause.
 */
async function fromStore(call, check) {
  try {
    const answer = await call();
    check(answer);
    return answer;
  } catch (cause) {
    throw new SessattrError('E008004', 503, STORE_UNAVAILABLE, undefined, { cause });
  }
}

function checkGot(values, length) {
  if (!Array.isArray(values) || values.length !== length || !values.every((v) => v === null || v === undefined || typeof v === 'string')) {
    throw new TypeError(`sessattr: store.get must resolve to ${length} strings or nulls`);
  }
}

function checkScanned(entries) {
  if (!Array.isArray(entries) || !entries.every((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string')) {
    throw new TypeError('sessattr: store.scan must resolve to [key, record] string pairs');
  }
}

function checkApplied(applied) {
  if (typeof applied !== 'boolean') throw new TypeError('sessattr: store.apply must resolve to true or false');
}

/** The Redis Cluster hash tag of a write set: the session id inside `{…}` of its first key. */
function hashTag(ops) {
  const key = ops[0]?.key ?? '';
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

/** Async locks by hash tag: `await lock(tag)` resolves to its release. */
class TagLocks {
  #tails = new Map();

  async lock(tag) {
    const before = this.#tails.get(tag) ?? Promise.resolve();
    let release;
    const mine = new Promise((resolve) => {
      release = resolve;
    });
    const tail = before.then(() => mine);
    this.#tails.set(tag, tail);
    await before;
    return () => {
      release();
      if (this.#tails.get(tag) === tail) this.#tails.delete(tag);
    };
  }
}

const decoder = new TextDecoder();

/** Bytes of one seed (docs/abi.md: 32 bytes from the OS CSPRNG). */
const SEED_BYTES = 32;
/**
 * Seeds drawn ahead, 32 per `crypto.getRandomValues` call: in Node.js 20 a
 * call costs several microseconds whatever its length (Web Crypto's checks
 * and a native call), far more than encoding a seed. Each seed is handed
 * out once and zeroed as it is taken, so the pool holds only unused ones.
 * Filled on first use, never at load (Workers refuse to make random values
 * in global scope).
 */
const seedPool = new Uint8Array(32 * SEED_BYTES);
let seedAt = seedPool.length;

/** A fresh seed: base64 of 32 bytes of the OS CSPRNG. (Exported for the tests.) */
export function freshSeed() {
  if (seedAt === seedPool.length) {
    crypto.getRandomValues(seedPool);
    seedAt = 0;
  }
  const bytes = seedPool.subarray(seedAt, (seedAt += SEED_BYTES));
  const seed = base64(bytes);
  bytes.fill(0);
  return seed;
}

/**
 * The JSON text of one attempt's `StepInput`, kept up to date as records
 * and scans are added, so that a step serializes only what was added since
 * the last one instead of the whole accumulated input. The text is exactly
 * `JSON.stringify({config, op, now, seed, records, scans})` of the objects
 * the step loop used to build. (Exported for the tests.)
 */
export class StepInput {
  #head;
  #records = new JsonMembers();
  #scans = new JsonMembers();

  constructor(config, op, now, seed) {
    // `{"config":…,"op":…,"now":…,"seed":"…"` — the text up to the closing brace.
    const head = JSON.stringify({ config, op, now, seed }).slice(0, -1);
    this.#head = head.length > 1 ? `${head},` : head;
  }

  /** Adds the store's record of `key` (a string, or null when absent). */
  record(key, value) {
    this.#records.add(key, value);
  }

  /** Adds the `[key, record]` pairs a scan of `prefix` found. */
  scan(prefix, entries) {
    this.#scans.add(prefix, entries);
  }

  /** The JSON text. */
  json() {
    return `${this.#head}"records":{${this.#records.text}},"scans":{${this.#scans.text}}}`;
  }
}

/**
 * One object of a StepInput (`records` or `scans`) as JSON text without its
 * braces, written as members are added: always `JSON.stringify(object)` of
 * a plain `{}` given the same values for the same keys in the same order,
 * as the step loop used to build it.
 *
 * The module's keys (`sa:…`, each new) take the fast way: JSON.stringify
 * writes an object's string keys in the order they were added, so each is
 * one member appended to the text. They are kept in a Map, not an object:
 * V8 gives an object a new hidden class for every distinct key it is given,
 * which costs more than the serializing. Any other key (one seen before, an
 * array index, which JSON.stringify writes first, `__proto__`, which an
 * assignment does not add) switches to the old way for good: the values
 * are assigned to a plain object and all of it is serialized again.
 */
class JsonMembers {
  text = '';
  #added = new Map();
  /** The plain object, once the old way is taken. */
  #object;

  add(key, value) {
    if (this.#object === undefined && typeof key === 'string' && key.startsWith('sa:') && !this.#added.has(key) && standalone(value)) {
      this.#added.set(key, value);
      const member = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
      this.text = this.text === '' ? member : `${this.text},${member}`;
      return;
    }
    if (this.#object === undefined) {
      this.#object = {};
      for (const [k, v] of this.#added) this.#object[k] = v;
    }
    this.#object[key] = value;
    this.text = JSON.stringify(this.#object).slice(1, -1);
  }
}

/**
 * Whether JSON.stringify writes `value` alone as it writes it as a member:
 * a string, null, or an array without toJSON (which would be given the
 * member's key). Records are strings or null, scans arrays of pairs.
 */
function standalone(value) {
  return value === null || typeof value === 'string' || (Array.isArray(value) && typeof value.toJSON !== 'function');
}

/** The JSON text of each configuration object, made once per object. */
const configTexts = new WeakMap();

function configJson(config) {
  let json = configTexts.get(config);
  if (json === undefined) {
    json = JSON.stringify(config);
    configTexts.set(config, json);
  }
  return json;
}

/** An instance of the module with stubbed imports, checked for the ABI version. */
function instantiate(module) {
  const imports = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (kind !== 'function') throw new Error(`sessattr: the module imports a ${kind} (${name})`);
    (imports[from] ??= {})[name] = () => {
      throw new Error(`sessattr: the module called the import ${name}, which the ABI never uses`);
    };
  }
  const { exports } = new WebAssembly.Instance(module, imports);
  const version = exports.sessattr_abi_version();
  if (version !== ABI_VERSION) {
    throw new Error(`sessattr: the module speaks ABI ${version}, this package speaks ${ABI_VERSION}`);
  }
  return exports;
}

/**
 * The module, ready to run steps. `module` is a compiled
 * `WebAssembly.Module` of the package's `.wasm`.
 */
export class Engine {
  #locks = new TagLocks();
  /** The JSON text of the configuration the instance holds (none yet). */
  #configured;

  constructor(module) {
    this.module = module;
    this.exports = instantiate(module);
  }

  /**
   * Makes `config` the instance's configuration (`sessattr_configure`) unless
   * it holds it already, so that step inputs need not carry it: the module
   * then parses it and builds its keyring once, not at every step. Checked
   * before every step, since handlers with other configurations may share
   * this engine and interleave their operations between awaits.
   */
  #configure(config) {
    const json = configJson(config);
    if (json === this.#configured) return;
    this.#configured = undefined;
    let answer;
    try {
      answer = JSON.parse(this.#call(utf8(json), this.exports.sessattr_configure));
    } catch (err) {
      this.exports = instantiate(this.module);
      throw err;
    }
    if (answer.configured !== true) throw new Error(`sessattr: the module refused the configuration (${answer.rejected})`);
    this.#configured = json;
  }

  /** One step: a `StepInput` object in, a `StepOutput` object out. */
  step(input) {
    return this.#step(JSON.stringify(input));
  }

  /** One step: a `StepInput`'s JSON text in, a `StepOutput` object out. */
  #step(json) {
    const bytes = utf8(json);
    try {
      return JSON.parse(this.#call(bytes));
    } catch (err) {
      // A trap leaves the instance unusable: start a fresh one (which has
      // no configuration yet).
      this.exports = instantiate(this.module);
      this.#configured = undefined;
      throw err;
    }
  }

  /** Calls the buffer-in, buffer-out export `call` (step by default) on `bytes`. */
  #call(bytes, call = this.exports.sessattr_step) {
    const e = this.exports;
    const ptr = e.sessattr_alloc(bytes.length);
    if (ptr === 0) throw new Error('sessattr: the module could not allocate the step input');
    new Uint8Array(e.memory.buffer, ptr, bytes.length).set(bytes);
    const packed = BigInt.asUintN(64, call(ptr, bytes.length));
    const outPtr = Number(packed >> 32n);
    const outLen = Number(packed & 0xffffffffn);
    const text = decoder.decode(new Uint8Array(e.memory.buffer, outPtr, outLen));
    e.sessattr_free(outPtr, outLen);
    return text;
  }

  /**
   * Runs `op` to its decision against `store` (docs/abi.md, the step loop):
   * fetches what the module asks for, applies its write set atomically and
   * decides again after a lost race. Answers `{response, log}`.
   */
  async run(store, op, config, clock) {
    let release;
    let again = 0;
    try {
      for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
        const input = new StepInput(undefined, op, clock(), freshSeed());
        const done = await this.#decide(store, input, config);
        const ops = done.writes?.ops ?? [];
        if (ops.length === 0 || (await fromStore(() => store.apply(ops), checkApplied))) {
          if (!done.run_again) return { response: done.response, log: done.log };
          // The writes were one hash tag's share (a login's password
          // rehash): decide anew over them, as the host does.
          if (++again > MAX_AGAIN) throw new Error(`sessattr: the module asked to run again more than ${MAX_AGAIN} times`);
          attempt--;
          continue;
        }
        // Lost a race: decide again, this time one at a time with the other
        // losers of that session (as the host does), so that contending
        // writers all get through instead of starving each other.
        release ??= await this.#locks.lock(hashTag(ops));
      }
      throw new SessattrError('E008004', 503, STORE_UNAVAILABLE);
    } finally {
      release?.();
    }
  }

  async #decide(store, input, config) {
    for (let round = 0; round < MAX_STEPS; round++) {
      this.#configure(config);
      const out = this.#step(input.json());
      if (out.done) return out.done;
      if (!out.need) throw new Error(`sessattr: the module rejected the step input (${out.rejected})`);
      const keys = out.need.get ?? [];
      if (keys.length > 0) {
        const values = await fromStore(() => store.get(keys), (v) => checkGot(v, keys.length));
        keys.forEach((key, i) => input.record(key, values[i] ?? null));
      }
      for (const prefix of out.need.scan ?? []) input.scan(prefix, await fromStore(() => store.scan(prefix), checkScanned));
    }
    throw new Error(`sessattr: no decision after ${MAX_STEPS} steps`);
  }
}
