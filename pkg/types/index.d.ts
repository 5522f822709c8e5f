// Type declarations of the `sessattr` package (every entry point: Node.js
// ESM and CommonJS, workerd, Deno, browsers). Field names are those of the
// REST API (SPEC 2), snake_case as on the wire.

/** The step-protocol (raw ABI) version this package speaks. */
export declare const ABI_VERSION: number;

/** A SPEC 2.5 sub-status code (E001xxx: user administration). */
export type SubStatus =
  | 'E001001'
  | 'E001002'
  | 'E004001'
  | 'E005001'
  | 'E007001'
  | 'E008001'
  | 'E008002'
  | 'E008003'
  | 'E008004'
  | 'E009001'
  | 'E009002';

/**
 * The one error the package throws for a refused operation. Its message is
 * fixed text: never a value, password, key or UST.
 */
export declare class SessattrError extends Error {
  constructor(code: SubStatus, httpStatus: number, message: string, item?: number, options?: { cause?: unknown });
  readonly name: 'SessattrError';
  /** The SPEC sub-status, e.g. `E009001`. */
  readonly code: SubStatus;
  /** The HTTP status the REST API answers with. */
  readonly httpStatus: number;
  /** The fixed text without the code: the REST answer's `message`. */
  readonly text: string;
  /** Index of the failing item of a many-form call. */
  readonly item?: number;
  /** The underlying failure, e.g. a store's own error (E008004, 503). */
  readonly cause?: unknown;
}

// ---------------------------------------------------------------- stores

/** When a stored record must already be (or not be) there for a write set. */
export type Expect = 'any' | 'absent' | { value: string };

/** One write of a write set (docs/abi.md). */
export type WriteAction =
  | { put: { value: string; expires_at: number | null } }
  | 'delete'
  | { expire: { expires_at: number | null } }
  | 'check';

/** A write with its precondition. */
export interface WriteOp {
  key: string;
  action: WriteAction;
  expect: Expect;
}

/**
 * Where the module's records live. Keys and records are opaque strings;
 * `expires_at` is unix microseconds (when the store may forget a record —
 * the module enforces expiry on every read regardless). Implement it to plug
 * in any database.
 */
export interface Store {
  /** One entry per key, `null` when absent. */
  get(keys: string[]): Promise<(string | null)[]>;
  /** Every `[key, record]` whose key starts with `prefix`, sorted by key. */
  scan(prefix: string): Promise<[string, string][]>;
  /**
   * All `ops` at once when every `expect` holds against the state before
   * them (resolves `true`), none otherwise (`false`).
   */
  apply(ops: WriteOp[]): Promise<boolean>;
}

/** The records of a store as one document, the host's `sessattr store export` format. */
export interface RecordsDocument {
  format: 'sessattr-records';
  version: 1;
  records: { key: string; value: string; expires_at: number | null }[];
}

/** The in-memory store: a `Map`, linearizable. */
export interface MemoryStore extends Store {
  /** How many records are held (expired ones included until touched). */
  readonly size: number;
  /** Every live record, in key order. */
  exportRecords(): RecordsDocument;
  /**
   * Adds the records of `document` all at once, or none when one of its
   * keys is already held (then it throws). Resolves to how many were added;
   * records already expired are skipped.
   */
  importRecords(document: RecordsDocument): Promise<number>;
}

/** Options of the stores; `now` is unix microseconds (tests). */
export interface StoreOptions {
  now?: () => number;
}

/** An in-memory store (a `Map`): linearizable, gone with the process. */
export declare function memoryStore(options?: StoreOptions): MemoryStore;

/** The part of a Cloudflare Workers KV namespace binding the adapter uses. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expiration?: number; expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: { prefix?: string; cursor?: string }): Promise<{
    keys: { name: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

/**
 * A store over a Workers KV namespace. Eventually consistent and without
 * transactions: create is not exactly-once across locations (README).
 */
export declare function workersKvStore(namespace: KvNamespaceLike, options?: StoreOptions): Store;

// ---------------------------------------------------------------- options

/** One key of the keyring: the same entries as the host's `keys.json`. */
export interface KeyEntry {
  id: string;
  /** Base64 of 32 random bytes. */
  key: string;
  state: 'primary' | 'decrypt-only' | 'retired';
}

/** SPEC 3 limits, with the host's setting names. */
export interface Limits {
  name_max_bytes?: number;
  value_max_bytes?: number;
  data_max_items?: number;
  body_max_bytes?: number;
  attrs_per_session?: number;
}

/** Argon2id costs for stored passwords. */
export interface Argon2Params {
  /** Memory in KiB. */
  m_cost: number;
  t_cost: number;
  p_cost: number;
}

/** Options of `createHandler`. */
export interface HandlerOptions {
  store: Store;
  /** The keyring; exactly one `primary` to encrypt. */
  keys?: KeyEntry[];
  /** The applications `current_app` may name; default `["CRM"]`. */
  apps?: string[];
  limits?: Limits;
  /** Session lifetime in seconds; default 3600. */
  sessionLifetime?: number;
  argon2?: Argon2Params;
  /**
   * Called with the error whenever `fetch` answers on its own (a failing
   * store: 503 E008004 with the store's error as `cause`; an unreadable
   * body: 400 E008002) — for your logs.
   */
  onError?: (error: unknown) => void;
  /** The clock in unix microseconds (tests). */
  clock?: () => number;
}

// ---------------------------------------------------------------- operations

/** Who acts on which session: the common fields of attribute operations. */
export interface AttrTarget {
  /** The caller's (super-user's) session. */
  current_ust: string;
  /** The session whose attributes are used; may equal `current_ust`. */
  target_ust: string;
  current_app: string;
}

/** One attribute to write. */
export interface AttrItem {
  name: string;
  value: string;
  encrypt?: boolean;
  /** Seconds from now, 1 … 315 360 000. */
  expiration?: number;
}

/** A write: one attribute (`name`, `value`…) or many (`data`). */
export type WriteFields = AttrTarget &
  ({ name: string; value: string; encrypt?: boolean; expiration?: number; data?: never } | {
    data: AttrItem[];
    encrypt?: boolean;
    expiration?: number;
    name?: never;
  });

/** A read or delete: one name or many. */
export type NamesFields = AttrTarget & ({ name: string; data?: never } | { data: string[]; name?: never });

/** An attribute as `get` returns it; timestamps are UTC ISO-8601 with microseconds. */
export interface Attribute {
  name: string;
  value: string;
  creation_time: string;
  last_modified: string;
  expiration_time: string;
  is_encrypted: boolean;
}

/** The answer of a single-form `get`. */
export type GetOne = ({ found: true } & Attribute) | { found: false };

/** The answer of a many-form `get`. */
export interface GetMany {
  result: Record<string, Attribute | null>;
}

/** Attribute operations over the handler's store. */
export interface AttrOperations {
  create(fields: WriteFields): Promise<Record<string, never>>;
  set(fields: WriteFields): Promise<Record<string, never>>;
  update(fields: WriteFields): Promise<Record<string, never>>;
  delete(fields: NamesFields): Promise<Record<string, never>>;
  get(fields: AttrTarget & { name: string; decrypt?: boolean }): Promise<GetOne>;
  get(fields: AttrTarget & { data: string[]; decrypt?: boolean }): Promise<GetMany>;
  exists(fields: AttrTarget & { name: string }): Promise<{ result: boolean }>;
  exists(fields: AttrTarget & { data: string[] }): Promise<{ result: Record<string, boolean> }>;
  names(fields: AttrTarget): Promise<{ result: string[] }>;
}

/** Session details (`sessions.get`). */
export interface SessionDetails {
  creation_time: string;
  expiration_time: string;
  remote_addr: string;
  user_agent: string;
}

/** Session operations. */
export interface SessionOperations {
  login(fields: { username: string; password: string; current_app: string }): Promise<{
    ust: string;
    expiration_time: string;
  }>;
  logout(fields: { ust: string; current_app: string }): Promise<Record<string, never>>;
  renew(fields: { ust: string; current_app: string }): Promise<{ expiration_time: string }>;
  get(fields: AttrTarget): Promise<SessionDetails>;
  verify(fields: AttrTarget): Promise<{ is_valid: boolean }>;
  owner(fields: { ust: string; current_app: string }): Promise<{
    user_id: string;
    username: string;
    is_super_user: boolean;
    creation_time: string;
  }>;
}

/** A user as `users.list` shows it. */
export interface UserSummary {
  username: string;
  user_id: string;
  is_super_user: boolean;
  is_locked: boolean;
  creation_time: string;
}

/** User administration (what the host's `sessattr user …` commands do). */
export interface UserOperations {
  add(user: { username: string; password: string; superUser?: boolean }): Promise<{ user_id: string }>;
  list(): Promise<{ users: UserSummary[] }>;
  lock(user: { username: string }): Promise<Record<string, never>>;
  unlock(user: { username: string }): Promise<Record<string, never>>;
  /** Deletes the user and ends its sessions. */
  remove(user: { username: string }): Promise<Record<string, never>>;
  passwd(user: { username: string; password: string }): Promise<Record<string, never>>;
}

/** A request as `handle` takes it (e.g. from `node:http`). */
export interface PlainRequest {
  method: string;
  /** Absolute, or a path with its query: `/zato/sso/session/attr?…`. */
  url: string;
  /** A `Headers`, or an object such as Node's `req.headers`. */
  headers?: Headers | Record<string, string | string[] | undefined>;
  body?: Uint8Array | ArrayBuffer | string | null;
  /** The client's address (e.g. Node's `req.socket.remoteAddress`), recorded on new sessions. */
  remoteAddress?: string;
}

/** An answer as `handle` gives it. */
export interface PlainAnswer {
  status: number;
  headers: [string, string][];
  /** The JSON text of the answer. */
  body: string;
}

/** What `createHandler` gives: a fetch handler and the operations. */
export interface Handler {
  /** Answers every path of SPEC 2 as the native host does. */
  fetch(request: Request): Promise<Response>;
  /**
   * The same for a plain request object — for HTTP layers whose GET
   * requests carry a JSON body (Zato clients send them), which a fetch
   * `Request` cannot hold.
   */
  handle(request: PlainRequest): Promise<PlainAnswer>;
  attrs: AttrOperations;
  sessions: SessionOperations;
  users: UserOperations;
}

/** A handler over `options.store`. */
export declare function createHandler(options: HandlerOptions): Handler;
