import type { DataSource, EntityManager } from 'typeorm';
import { isCanonicalMap, randomKey, type Identity } from '@pursuance/crypto';
import { nodeMigrations, openDurableSqlite } from '@pursuance/migrations';
import type { Rejection, SignedEvent } from '@pursuance/pursuance';
import { nodeEntities, type EventOrigin } from './entities.js';
import { KeyVaultEmptyError, StoreCorruptError, StoreKeyMismatchError } from './errors.js';
import { ProjectionRows, type ProjectionWrite, type Shelf, type StoredProjections } from './projection-store.js';
import { StoreKeys } from './store-keys.js';

export interface StoredEvent {
  readonly seq: number;
  readonly id: string;
  readonly pursuanceId: string;
  readonly bytes: Uint8Array;
}

/** An input kept because it never parsed, verified or belonged anywhere (or was set aside), with the reason. */
export interface RejectedInput {
  readonly hash: string;
  readonly pursuanceId: string | null;
  readonly code: string;
  readonly reason: string;
  readonly origin: string;
  readonly receivedAt: number;
  readonly bytes: Buffer;
}

/**
 * How many unused key secrets act() and create() make sure are at rest first: one action
 * rotates at most one key per role, and rules hold at most 64 roles.
 */
export const KEY_SECRETS_PER_ACTION = 80;
/** A top-up fills the vault this far past the minimum, so most actions write nothing extra. */
const KEY_SECRET_TOP_UP = 48;
const KEY_CHECK = 'key-check';
const PAGE = 2000;

/** A Buffer (SQLite's blobs) as a plain Uint8Array view, which the canonical encoding expects. */
const plainBytes = (bytes: Uint8Array): Uint8Array => (Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes);
const asBuffer = (value: unknown, what: string): Buffer => {
  if (!(value instanceof Uint8Array)) throw new StoreCorruptError(`a stored ${what} is malformed`);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
};
const asString = (value: unknown, what: string): string => {
  if (typeof value !== 'string') throw new StoreCorruptError(`a stored ${what} is malformed`);
  return value;
};
const asNumber = (value: unknown, what: string): number => {
  if (typeof value !== 'number') throw new StoreCorruptError(`a stored ${what} is malformed`);
  return value;
};

/**
 * The append-only event store (SQLite through TypeORM, WAL, synchronous=FULL): an append
 * resolves only after its transaction is on disk, so an event the node acknowledged (to its
 * user, or as synced) survives a crash. Appends are idempotent by event id. Events are never
 * updated or deleted; projections are rebuilt from here.
 *
 * Sealed at rest (see entities.ts and store-keys.ts): the file shows keyed tags, local
 * sequence numbers and sealed blobs only. It also keeps the node's key vault: random secrets
 * for the role keys this node creates, each at rest before an author may use it, marked used
 * in the same transaction as the first event stored after it was drawn.
 */
/** A contact whose safety number the user compared (the number then, and when). */
export interface SafetyVerification {
  readonly safetyNumber: string;
  readonly verifiedAt: number;
}

const SAFETY_ROW = 'safety-verified';
/** The sealed record of a pursuance's event counter (see EventStore.count). */
const COUNT_RECORD = 'count';
const FOLD_RECORD = 'fold';
/** Sealed documents the node keeps (see sealedDocument); each name is also the sealed value's type tag. */
export type SealedDocumentName = 'join-invites' | 'join-requests' | 'snapshots' | 'admission-inbox' | 'admission-sent' | 'links';

export class EventStore {
  readonly #keys: StoreKeys;
  readonly #projections: ProjectionRows;
  /** Unused secrets at rest, not yet handed out (in vault order). */
  readonly #pool: { seq: number; secret: Uint8Array }[] = [];
  /** Handed out, not yet marked used: the next append marks them, whether or not its events used them. */
  readonly #drawn = new Set<number>();
  #safetyWrites: Promise<void> = Promise.resolve();
  readonly #documentWrites = new Map<SealedDocumentName, Promise<void>>();

  private constructor(
    public readonly dataSource: DataSource,
    keys: StoreKeys,
    private readonly path: string,
  ) {
    this.#keys = keys;
    this.#projections = new ProjectionRows(keys);
  }

  /**
   * Open (creating or migrating) the store sealed under `identity`'s store key. A store from
   * before sealing is sealed here, row by row, in one transaction; its plaintext tables are
   * dropped and the file compacted so no plaintext page is left behind.
   */
  public static async open(path: string, identity: Identity): Promise<EventStore> {
    const { writer } = await openDurableSqlite({ path, entities: nodeEntities, migrations: nodeMigrations });
    const store = new EventStore(writer, StoreKeys.forIdentity(identity), path);
    try {
      await store.#checkKey();
      await store.#sealPlaintextRows();
      await store.#loadPool();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }

  async #checkKey(): Promise<void> {
    const [row] = await this.dataSource.query<{ value: Buffer }[]>(`SELECT value FROM node_store_meta WHERE name = ?`, [KEY_CHECK]);
    if (!row) {
      // A new store, or one from before sealing: whatever rows it has are plaintext (sealed below).
      await this.dataSource.query(`INSERT INTO node_store_meta (name, value) VALUES (?, ?)`, [KEY_CHECK, this.#keys.seal({ t: 'check' })]);
      return;
    }
    if (!this.#keys.opens(row.value, 'check')) throw new StoreKeyMismatchError(this.path);
  }

  async #sealPlaintextRows(): Promise<void> {
    const [legacy] = await this.dataSource.query<{ n: number }[]>(
      `SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('node_events', 'node_rejected_inputs')`,
    );
    if (!legacy || legacy.n === 0) return;
    // Zero the pages the plaintext tables free, then rebuild the file and empty the WAL, which
    // may still hold plaintext frames from before.
    await this.dataSource.query('PRAGMA secure_delete = ON');
    await this.dataSource.transaction(async (tx) => {
      for (let after = 0; ;) {
        const rows = await tx.query<{ seq: number; id: string; pursuance_id: string; origin: string; received_at: number; bytes: Buffer }[]>(
          `SELECT seq, id, pursuance_id, origin, received_at, bytes FROM node_events WHERE seq > ? ORDER BY seq LIMIT ?`,
          [after, PAGE],
        );
        if (rows.length === 0) break;
        after = rows.at(-1)!.seq;
        for (const r of rows) await this.#insertEvent(tx, r.id, r.pursuance_id, r.origin, r.received_at, r.bytes);
      }
      for (let offset = 0; ; offset += PAGE) {
        const rows = await tx.query<
          { hash: string; pursuance_id: string | null; code: string; reason: string; origin: string; received_at: number; bytes: Buffer }[]
        >(`SELECT hash, pursuance_id, code, reason, origin, received_at, bytes FROM node_rejected_inputs ORDER BY received_at, rowid LIMIT ? OFFSET ?`, [
          PAGE,
          offset,
        ]);
        if (rows.length === 0) break;
        for (const r of rows) await this.#insertReject(tx, r.hash, r.pursuance_id, r.code, r.reason, r.origin, r.received_at, r.bytes);
      }
      await tx.query(`DROP INDEX IF EXISTS "IDX_node_events_pursuance_seq"`);
      await tx.query(`DROP TABLE IF EXISTS "node_events"`);
      await tx.query(`DROP TABLE IF EXISTS "node_rejected_inputs"`);
    });
    await this.dataSource.query('VACUUM');
    await this.dataSource.query('PRAGMA wal_checkpoint(TRUNCATE)');
    await this.dataSource.query('PRAGMA secure_delete = OFF');
  }

  async #insertEvent(q: Pick<EntityManager, 'query'>, id: string, pursuanceId: string, origin: string, receivedAt: number, bytes: Uint8Array): Promise<number> {
    const b = plainBytes(bytes);
    await q.query(`INSERT OR IGNORE INTO node_sealed_events (event_tag, pursuance_tag, sealed) VALUES (?, ?, ?)`, [
      this.#keys.tag('event', id),
      this.#keys.tag('pursuance', pursuanceId),
      this.#keys.seal({ t: 'event', id, p: pursuanceId, o: origin, r: receivedAt, b }),
    ]);
    const [row] = await q.query<{ n: number }[]>('SELECT changes() AS n');
    return row?.n ?? 0;
  }

  async #insertReject(
    q: Pick<EntityManager, 'query'>,
    hash: string,
    pursuanceId: string | null,
    code: string,
    reason: string,
    origin: string,
    receivedAt: number,
    bytes: Uint8Array,
  ): Promise<void> {
    await q.query(`INSERT OR IGNORE INTO node_sealed_rejects (input_tag, pursuance_tag, sealed) VALUES (?, ?, ?)`, [
      this.#keys.tag('input', hash),
      pursuanceId === null ? null : this.#keys.tag('pursuance', pursuanceId),
      this.#keys.seal({ t: 'reject', h: hash, p: pursuanceId, c: code, m: reason, o: origin, r: receivedAt, b: plainBytes(bytes) }),
    ]);
  }

  /**
   * Append events in one transaction; returns how many were new. Marks every drawn key secret
   * used. `projection`: the read model's change these events make, written in the same
   * transaction, so the persisted read model never disagrees with the stored events.
   */
  public async append(events: readonly SignedEvent[], origin: EventOrigin, now: number = Date.now(), projection?: ProjectionWrite): Promise<number> {
    if (events.length === 0 && !projection) return 0;
    const drawn = [...this.#drawn];
    const inserted = await this.dataSource.transaction(async (tx) => {
      let n = 0;
      const added = new Map<string, number>();
      for (const e of events) {
        const pursuanceId = e.pursuanceId ?? e.id;
        const one = await this.#insertEvent(tx, e.id, pursuanceId, origin, now, e.bytes);
        n += one;
        if (one > 0) added.set(pursuanceId, (added.get(pursuanceId) ?? 0) + one);
      }
      for (const [pursuanceId, more] of added) {
        const before = await this.#storedCount(tx, pursuanceId);
        // No counter yet (a store from before counters, or one whose counter did not open): counted once, here.
        await this.#writeCount(tx, pursuanceId, before === undefined ? await this.#countRows(tx, pursuanceId) : before + more);
      }
      if (drawn.length > 0) await tx.query(`UPDATE node_key_vault SET used = 1 WHERE seq IN (${drawn.map(() => '?').join(', ')})`, drawn);
      if (projection) await this.#projections.write(tx, projection);
      return n;
    });
    for (const seq of drawn) this.#drawn.delete(seq);
    return inserted;
  }

  /**
   * Write a pursuance's read model on its own (after a replay). `replace`: drop its stored parts
   * first, in the same transaction (a rebuild writes them all again).
   */
  public async writeProjection(write: ProjectionWrite, replace = false): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      if (replace) await this.#projections.clear(tx, write.pursuanceId);
      await this.#projections.write(tx, write);
    });
  }

  /**
   * Persisted read models, opened: every part of every pursuance, or (`pursuanceIds`) the parts
   * of those that start-up reads (start-up serves from these before any replay).
   */
  public storedProjections(pursuanceIds?: readonly string[]): Promise<StoredProjections> {
    return pursuanceIds === undefined ? this.#projections.readAll(this.dataSource) : this.#projections.readNow(this.dataSource, pursuanceIds);
  }

  /**
   * One pursuance's read-model parts that start-up's first read leaves unread: the histories
   * (SHELF.later) or the task list (SHELF.list); `pause` is awaited between pages of rows, and
   * `keep` gives what is kept of each part's text as its page is read.
   */
  public shelfProjections(
    pursuanceId: string,
    shelf: Exclude<Shelf, 0>,
    pause?: () => Promise<void>,
    keep?: (name: string, json: string) => string,
  ): Promise<Map<string, string>> {
    return this.#projections.readShelf(this.dataSource, pursuanceId, shelf, pause, keep);
  }

  /** One read-model part, or undefined when it is not stored. */
  public projectionPart(pursuanceId: string, name: string): Promise<string | undefined> {
    return this.#projections.readOne(this.dataSource, pursuanceId, name);
  }

  /** Keep an input that never parsed, verified or belonged anywhere, with the reason. */
  public async recordInvalid(
    rejection: Rejection,
    bytes: Uint8Array,
    origin: EventOrigin,
    pursuanceId: string | null,
    now: number = Date.now(),
  ): Promise<void> {
    await this.#insertReject(this.dataSource, rejection.eventId, pursuanceId, rejection.code, rejection.reason, origin, now, bytes);
  }

  /** Forget a kept input once it has been taken into the log (a refused pending event offered again). */
  public async deleteRejectedInput(hash: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM node_sealed_rejects WHERE input_tag = ?`, [this.#keys.tag('input', hash)]);
  }

  /**
   * `selectedAs`: the pursuance whose tag selected the row, when a query did; its sealed id must
   * then be that one (the same check as its tag's, without an HMAC a row: a million at a load).
   */
  #openEvent(
    row: { seq: number; event_tag: string; pursuance_tag: string; sealed: Buffer },
    selectedAs?: string,
  ): StoredEvent & { origin: string; receivedAt: number } {
    const r = this.#keys.open(row.sealed, 'event');
    const id = asString(r.id, 'event id');
    const pursuanceId = asString(r.p, 'pursuance id');
    const inPlace = selectedAs === undefined ? this.#keys.tag('pursuance', pursuanceId) === row.pursuance_tag : pursuanceId === selectedAs;
    // The tags bind each sealed row to its place: rows moved or swapped on disk are refused.
    if (this.#keys.tag('event', id) !== row.event_tag || !inPlace) {
      throw new StoreCorruptError(`stored event row ${row.seq} is not where it belongs`);
    }
    const bytes = asBuffer(r.b, 'event');
    return {
      seq: row.seq,
      id,
      pursuanceId,
      origin: asString(r.o, 'origin'),
      receivedAt: asNumber(r.r, 'time'),
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    };
  }

  public async pursuanceIds(): Promise<string[]> {
    // Each distinct tag found by a seek on the (pursuance_tag, seq) index, with its first row (which
    // names the pursuance): MIN(seq) … GROUP BY walked the whole index, 75–180 ms at a million events.
    const firsts = await this.dataSource.query<{ seq: number; event_tag: string; pursuance_tag: string; sealed: Buffer }[]>(
      `WITH RECURSIVE tags(tag) AS (
         SELECT MIN(pursuance_tag) FROM node_sealed_events
         UNION ALL
         SELECT (SELECT MIN(pursuance_tag) FROM node_sealed_events WHERE pursuance_tag > tags.tag) FROM tags WHERE tags.tag IS NOT NULL
       )
       SELECT e.seq, e.event_tag, e.pursuance_tag, e.sealed FROM tags
       JOIN node_sealed_events e ON e.seq = (SELECT MIN(seq) FROM node_sealed_events WHERE pursuance_tag = tags.tag)`,
    );
    return firsts.map((row) => this.#openEvent(row).pursuanceId).sort();
  }

  /**
   * How many events the store holds, of one pursuance or in all. A pursuance's count is kept in
   * a sealed counter row, written in the same transaction as its events: start-up compares it
   * with each read model's checkpoint before the API answers, and counting a million index
   * entries took 50 ms of that. A store without the counter (older, or one that does not open)
   * is counted.
   */
  public async count(pursuanceId?: string): Promise<number> {
    if (pursuanceId === undefined) {
      const rows = await this.dataSource.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM node_sealed_events`);
      return rows[0]?.n ?? 0;
    }
    return (await this.#storedCount(this.dataSource, pursuanceId)) ?? this.#countRows(this.dataSource, pursuanceId);
  }

  async #countRows(q: Pick<EntityManager, 'query'>, pursuanceId: string): Promise<number> {
    const rows = await q.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM node_sealed_events WHERE pursuance_tag = ?`, [
      this.#keys.tag('pursuance', pursuanceId),
    ]);
    return rows[0]?.n ?? 0;
  }

  /** One sealed row of node_store_meta, or undefined when there is none. */
  async #metaValue(q: Pick<EntityManager, 'query'>, name: string): Promise<Buffer | undefined> {
    const [row] = await q.query<{ value: Buffer }[]>(`SELECT value FROM node_store_meta WHERE name = ?`, [name]);
    return row?.value;
  }

  /** Write (or replace) one sealed row of node_store_meta. */
  async #putMeta(q: Pick<EntityManager, 'query'>, name: string, sealed: Buffer): Promise<void> {
    await q.query(`INSERT INTO node_store_meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value`, [name, sealed]);
  }

  /** The counter row's name: a keyed tag, cut to the column's 32 characters (96 bits: no two pursuances meet). */
  #countName(pursuanceId: string): string {
    return `count:${this.#keys.tag('count', pursuanceId).slice(0, 26)}`;
  }

  /** The pursuance's event counter; undefined when there is none, or it does not open as this pursuance's. */
  async #storedCount(q: Pick<EntityManager, 'query'>, pursuanceId: string): Promise<number | undefined> {
    const value = await this.#metaValue(q, this.#countName(pursuanceId));
    if (!value) return undefined;
    let record;
    try {
      record = this.#keys.open(value, COUNT_RECORD);
    } catch (err) {
      if (err instanceof StoreCorruptError) return undefined;
      throw err;
    }
    const { p, n } = record;
    return p === pursuanceId && typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  }

  async #writeCount(q: Pick<EntityManager, 'query'>, pursuanceId: string, n: number): Promise<void> {
    await this.#putMeta(q, this.#countName(pursuanceId), this.#keys.seal({ t: COUNT_RECORD, p: pursuanceId, n }));
  }

  /** The fold checkpoint row's name: a keyed tag, as the counter's. */
  #foldName(pursuanceId: string): string {
    return `fold:${this.#keys.tag('fold', pursuanceId).slice(0, 27)}`;
  }

  /**
   * Keep `checkpoint` (the encoded fold of the pursuance's log, @pursuance/pursuance's
   * encodeFoldCheckpoint) as the fold of every event stored for it so far: `upTo` is the arrival
   * number of its last one, so a start-up knows which rows it covers even if more came after.
   */
  public async writeFoldCheckpoint(pursuanceId: string, checkpoint: Uint8Array): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      const [row] = await tx.query<{ upTo: number | null }[]>(`SELECT MAX(seq) AS upTo FROM node_sealed_events WHERE pursuance_tag = ?`, [
        this.#keys.tag('pursuance', pursuanceId),
      ]);
      await this.#putMeta(tx, this.#foldName(pursuanceId), this.#keys.seal({ t: FOLD_RECORD, p: pursuanceId, s: row?.upTo ?? 0, b: plainBytes(checkpoint) }));
    });
  }

  /** The fold checkpoint kept for a pursuance and the arrival number it goes up to; null if none. StoreCorruptError if it does not open as this pursuance's. */
  public async foldCheckpoint(pursuanceId: string): Promise<{ readonly upTo: number; readonly bytes: Uint8Array } | null> {
    const value = await this.#metaValue(this.dataSource, this.#foldName(pursuanceId));
    if (!value) return null;
    const { p, s, b } = this.#keys.open(value, FOLD_RECORD);
    if (p !== pursuanceId) throw new StoreCorruptError('a fold checkpoint row is not where it belongs');
    return { upTo: asNumber(s, 'arrival number'), bytes: asBuffer(b, 'fold checkpoint') };
  }

  /** Stream a pursuance's events in arrival order, in pages (keeps memory flat on big stores). */
  public async *stream(pursuanceId: string, pageSize = PAGE): AsyncGenerator<StoredEvent[]> {
    const tag = this.#keys.tag('pursuance', pursuanceId);
    let after = 0;
    for (;;) {
      const rows = await this.dataSource.query<{ seq: number; event_tag: string; pursuance_tag: string; sealed: Buffer }[]>(
        `SELECT seq, event_tag, pursuance_tag, sealed FROM node_sealed_events WHERE pursuance_tag = ? AND seq > ? ORDER BY seq LIMIT ?`,
        [tag, after, pageSize],
      );
      if (rows.length === 0) return;
      after = rows.at(-1)!.seq;
      yield rows.map((row) => {
        const { seq, id, bytes } = this.#openEvent(row, pursuanceId);
        return { seq, id, pursuanceId, bytes };
      });
    }
  }

  /** The inputs kept for a pursuance, in arrival order. */
  public async rejectedInputs(pursuanceId: string): Promise<RejectedInput[]> {
    const rows = await this.dataSource.query<{ seq: number; input_tag: string; sealed: Buffer }[]>(
      `SELECT seq, input_tag, sealed FROM node_sealed_rejects WHERE pursuance_tag = ? ORDER BY seq`,
      [this.#keys.tag('pursuance', pursuanceId)],
    );
    return rows.map((row) => {
      const r = this.#keys.open(row.sealed, 'reject');
      const hash = asString(r.h, 'input hash');
      if (this.#keys.tag('input', hash) !== row.input_tag || r.p !== pursuanceId)
        throw new StoreCorruptError(`kept input row ${row.seq} is not where it belongs`);
      return {
        hash,
        pursuanceId,
        code: asString(r.c, 'rejection code'),
        reason: asString(r.m, 'rejection reason'),
        origin: asString(r.o, 'origin'),
        receivedAt: asNumber(r.r, 'time'),
        bytes: asBuffer(r.b, 'input'),
      };
    });
  }

  // --- key vault ------------------------------------------------------------------------

  async #loadPool(): Promise<void> {
    const rows = await this.dataSource.query<{ seq: number; sealed: Buffer }[]>(`SELECT seq, sealed FROM node_key_vault WHERE used = 0 ORDER BY seq`);
    this.#pool.length = 0;
    for (const row of rows) this.#pool.push({ seq: row.seq, secret: this.#openSecret(row.sealed) });
  }

  #openSecret(sealed: Buffer): Uint8Array {
    const secret = this.#keys.open(sealed, 'key').s;
    if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new StoreCorruptError('a stored key secret is malformed');
    return Uint8Array.from(secret);
  }

  /** Make sure at least `min` unused key secrets are at rest (one transaction when some are missing). */
  public async ensureKeySecrets(min: number = KEY_SECRETS_PER_ACTION): Promise<void> {
    if (this.#pool.length >= min) return;
    const fresh = Array.from({ length: min + KEY_SECRET_TOP_UP - this.#pool.length }, () => randomKey());
    const added = await this.dataSource.transaction(async (tx) => {
      const out: { seq: number; secret: Uint8Array }[] = [];
      for (const secret of fresh) {
        await tx.query(`INSERT INTO node_key_vault (used, sealed) VALUES (0, ?)`, [this.#keys.seal({ t: 'key', s: secret })]);
        const [row] = await tx.query<{ seq: number }[]>('SELECT last_insert_rowid() AS seq');
        out.push({ seq: row!.seq, secret });
      }
      return out;
    });
    // Only once committed may an author use them.
    this.#pool.push(...added);
  }

  /**
   * A fresh secret for a new role key (AuthorOptions.keySecret): already at rest, handed out
   * once. KeyVaultEmptyError rather than an unkept key when none is left.
   */
  public takeKeySecret(): Uint8Array {
    const next = this.#pool.shift();
    if (!next) throw new KeyVaultEmptyError();
    this.#drawn.add(next.seq);
    return Uint8Array.from(next.secret);
  }

  /** Every secret an event stored here may have used (recovery of keys at load). */
  public async usedKeySecrets(): Promise<Uint8Array[]> {
    const rows = await this.dataSource.query<{ sealed: Buffer }[]>(`SELECT sealed FROM node_key_vault WHERE used = 1 ORDER BY seq`);
    return rows.map((row) => this.#openSecret(row.sealed));
  }

  /**
   * Which contacts' safety numbers the user compared, and when: one sealed row for all of them
   * (its clear name says only that the row exists; the padding bucket hides how many it holds).
   */
  public async safetyVerifications(): Promise<Map<string, SafetyVerification>> {
    const value = await this.#metaValue(this.dataSource, SAFETY_ROW);
    const out = new Map<string, SafetyVerification>();
    if (!value) return out;
    const entries = this.#keys.open(value, 'safety').contacts;
    if (!Array.isArray(entries)) throw new StoreCorruptError('the safety-number row is not a list');
    for (const e of entries) {
      const { o, n, at } = isCanonicalMap(e) ? e : {};
      if (typeof o !== 'string' || typeof n !== 'string' || typeof at !== 'number') throw new StoreCorruptError('a safety-number entry is malformed');
      out.set(o, { safetyNumber: n, verifiedAt: at });
    }
    return out;
  }

  /**
   * A small document the node keeps sealed under the profile key in one row of its own (join
   * invites and requests): read whole, written whole. Returns the JSON text, or null if none.
   */
  public async sealedDocument(name: SealedDocumentName): Promise<string | null> {
    const value = await this.#metaValue(this.dataSource, name);
    if (!value) return null;
    const json = this.#keys.open(value, name).json;
    if (typeof json !== 'string') throw new StoreCorruptError(`the ${name} row is not a sealed document`);
    return json;
  }

  /**
   * Replace a sealed document with what `update` makes of the current one. Updates of one
   * document run one at a time, so two requests cannot lose each other's change.
   */
  public updateSealedDocument(name: SealedDocumentName, update: (json: string | null) => string): Promise<void> {
    const run = (this.#documentWrites.get(name) ?? Promise.resolve()).then(async () => {
      const next = update(await this.sealedDocument(name));
      await this.#putMeta(this.dataSource, name, this.#keys.seal({ t: name, json: next }));
    });
    this.#documentWrites.set(
      name,
      run.catch(() => undefined),
    );
    return run;
  }

  /** Record (or, with null, forget) that the safety number with `onion` was compared. */
  public async setSafetyVerification(onion: string, v: SafetyVerification | null): Promise<void> {
    // Read-modify-write of one row: chained so two requests cannot lose each other's change.
    const run = this.#safetyWrites.then(async () => {
      const all = await this.safetyVerifications();
      if (v === null) all.delete(onion);
      else all.set(onion, v);
      const contacts = [...all].map(([o, e]) => ({ o, n: e.safetyNumber, at: e.verifiedAt }));
      await this.#putMeta(this.dataSource, SAFETY_ROW, this.#keys.seal({ t: 'safety', contacts }));
    });
    this.#safetyWrites = run.catch(() => undefined);
    return run;
  }

  public async close(): Promise<void> {
    this.#keys.wipe();
    for (const { secret } of this.#pool) secret.fill(0);
    this.#pool.length = 0;
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
