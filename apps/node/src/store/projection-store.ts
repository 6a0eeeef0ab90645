import type { EntityManager } from 'typeorm';
import { LegacyProjectionLayoutError, StoreCorruptError } from './errors.js';
import type { StoreKeys } from './store-keys.js';

/**
 * A change to one pursuance's persisted read model: parts (by name) to write whole, parts to
 * drop. Each part's value is the JSON text the node serves, so the rows hold no more than the
 * API tells its own user, sealed like every other row.
 */
export interface ProjectionWrite {
  readonly pursuanceId: string;
  readonly upserts: ReadonlyMap<string, string>;
  readonly deletes: readonly string[];
}

/** Every stored part of every pursuance's read model: pursuance id → part name → JSON text. */
export type StoredProjections = Map<string, Map<string, string>>;

/**
 * Parts named with this prefix are read on demand, not at start-up: they are stored under a
 * pursuance tag of their own, so start-up's read skips them without opening them (a big
 * board's task histories are most of its read model, and no list shows them).
 */
export const LATER_PREFIX = 'later:';
/**
 * Parts named with this prefix (the task list's items) are read right after start-up's first
 * read, while the API already answers: at a million events they are 42 MB, which start-up's
 * first read would otherwise open before the board's first page could be served (that page has
 * a part of its own, on the start-up shelf).
 */
export const LIST_PREFIX = 'list:';

/** Where a part is stored: read at start-up (0), on demand (1, LATER_PREFIX), right after start-up (2, LIST_PREFIX). */
export type Shelf = 0 | 1 | 2;
export const SHELF = { now: 0, later: 1, list: 2 } as const satisfies Record<string, Shelf>;
const SHELVES: readonly Shelf[] = [SHELF.now, SHELF.later, SHELF.list];
export const shelfOf = (name: string): Shelf => (name.startsWith(LATER_PREFIX) ? SHELF.later : name.startsWith(LIST_PREFIX) ? SHELF.list : SHELF.now);

type Query = Pick<EntityManager, 'query'>;

/**
 * Parts are stored in this many sealed rows per pursuance and shelf, each row holding the parts
 * whose keyed hash falls in it. A 12,000-task board is then 256 rows to open at start-up, not
 * 12,000: what that costs is the bytes, not a secretbox, a keyed tag and a decode per part
 * (which was most of the read). Writing a part rewrites its row: a 256th of a board's list, a
 * 1,024th of its histories (four times the list's bytes, read only on demand, so more rows).
 */
export const PROJECTION_BUCKETS = { now: 256, later: 1024, list: 256 } as const;
/** Per shelf: how many buckets, and what its pursuance tag adds to the pursuance id. */
const BUCKETS: Record<Shelf, number> = { [SHELF.now]: PROJECTION_BUCKETS.now, [SHELF.later]: PROJECTION_BUCKETS.later, [SHELF.list]: PROJECTION_BUCKETS.list };
const SHELF_SUFFIX: Record<Shelf, string> = { [SHELF.now]: '', [SHELF.later]: LATER_PREFIX, [SHELF.list]: LIST_PREFIX };

/** Rows one page of a read opens (#read), and with pauses between pages. */
const PAGE_ROWS = 64;
const PAUSED_PAGE_ROWS = 8;

/** How many rows one statement reads or writes (SQLite's default bound on variables is 32,766). */
const BATCH = 200;

/** A row as the table holds it. */
interface Row {
  readonly pursuance_tag: string;
  readonly name_tag: string;
  readonly sealed: Buffer;
}

/** One bucket row opened: whose, which shelf, which bucket, and its parts (name → JSON text). */
interface Bucket {
  readonly p: string;
  readonly shelf: Shelf;
  readonly b: number;
  readonly parts: Map<string, string>;
}

const isShelf = (s: unknown): s is Shelf => s === SHELF.now || s === SHELF.later || s === SHELF.list;

/** The sealed record of a bucket row. Parts are [name, JSON] pairs, not a map: names are user-influenced (task ids). */
const RECORD = 'projection-bucket';
/** The record a row held before parts were bucketed (PROJECTION_FORMAT 2 and earlier): one part per row. */
const LEGACY_RECORD = 'projection';

/**
 * The sealed rows of the persisted read models (table node_sealed_projections). Rows are keyed
 * by tags, so the file does not show which pursuance, which part or how many parts a row is
 * about; each sealed row names its pursuance, shelf and bucket, and a row copied under another
 * key is refused when opened (what it names must match its tags).
 */
export class ProjectionRows {
  public constructor(private readonly keys: StoreKeys) {}

  /** The tag of the pursuance's rows on one shelf. */
  #pursuanceTag(pursuanceId: string, shelf: Shelf): string {
    return this.keys.tag('pursuance', shelf === SHELF.now ? pursuanceId : `${pursuanceId}\u0000${SHELF_SUFFIX[shelf]}`);
  }

  #bucketTag(pursuanceId: string, shelf: Shelf, bucket: number): string {
    return this.keys.tag('projection', `${pursuanceId}\u0000${shelf}\u0000${bucket}`);
  }

  /** Which bucket holds a part: keyed, so nobody choosing task ids can pile parts into one row. */
  #bucketOf(pursuanceId: string, name: string): number {
    return Number.parseInt(this.keys.tag('bucket', `${pursuanceId}\u0000${name}`).slice(0, 8), 16) % BUCKETS[shelfOf(name)];
  }

  /** Apply one write inside the caller's transaction: each touched bucket is read, changed and written back (or dropped when empty). */
  public async write(q: Query, w: ProjectionWrite): Promise<void> {
    const touched = new Map<string, { shelf: Shelf; b: number; upserts: [string, string][]; deletes: string[] }>();
    const touch = (name: string) => {
      const shelf = shelfOf(name);
      const b = this.#bucketOf(w.pursuanceId, name);
      const key = `${shelf}:${b}`;
      let t = touched.get(key);
      if (!t) touched.set(key, (t = { shelf, b, upserts: [], deletes: [] }));
      return t;
    };
    for (const [name, json] of w.upserts) touch(name).upserts.push([name, json]);
    for (const name of w.deletes) touch(name).deletes.push(name);
    const changes = [...touched.values()];
    for (let i = 0; i < changes.length; i += BATCH) {
      const batch = changes.slice(i, i + BATCH);
      const current = await this.#readBuckets(
        q,
        w.pursuanceId,
        batch.map((c) => [c.shelf, c.b] as const),
      );
      const keep: unknown[] = [];
      const drop: [string, string][] = [];
      for (const c of batch) {
        const parts = current.get(`${c.shelf}:${c.b}`) ?? new Map<string, string>();
        for (const name of c.deletes) parts.delete(name);
        for (const [name, json] of c.upserts) parts.set(name, json);
        const tags = [this.#pursuanceTag(w.pursuanceId, c.shelf), this.#bucketTag(w.pursuanceId, c.shelf, c.b)] as const;
        if (parts.size === 0) {
          drop.push([...tags]);
          continue;
        }
        keep.push(...tags, this.keys.seal({ t: RECORD, p: w.pursuanceId, s: c.shelf, b: c.b, parts: [...parts] }));
      }
      if (keep.length > 0)
        await q.query(
          `INSERT INTO node_sealed_projections (pursuance_tag, name_tag, sealed) VALUES ${Array.from({ length: keep.length / 3 }, () => '(?, ?, ?)').join(', ')}
           ON CONFLICT(pursuance_tag, name_tag) DO UPDATE SET sealed = excluded.sealed`,
          keep,
        );
      for (const [pursuanceTag, nameTag] of drop)
        await q.query(`DELETE FROM node_sealed_projections WHERE pursuance_tag = ? AND name_tag = ?`, [pursuanceTag, nameTag]);
    }
  }

  /** The parts of these buckets of one pursuance as stored ("shelf:b" → parts); a bucket with no row is absent. */
  async #readBuckets(q: Query, pursuanceId: string, buckets: readonly (readonly [Shelf, number])[]): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    for (const shelf of SHELVES) {
      const wanted = buckets.filter(([s]) => s === shelf).map(([, b]) => b);
      if (wanted.length === 0) continue;
      const rows = await q.query<Row[]>(
        `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections WHERE pursuance_tag = ? AND name_tag IN (${wanted.map(() => '?').join(', ')})`,
        [this.#pursuanceTag(pursuanceId, shelf), ...wanted.map((b) => this.#bucketTag(pursuanceId, shelf, b))],
      );
      for (const row of rows) {
        // The row's tags were worked out from (pursuanceId, shelf, b): a row that opens under
        // them names exactly these (#openRow recomputes both tags from what the row names).
        const bucket = this.#openRow(row, (p, s) => (s === shelf ? this.#pursuanceTag(p, s) : null));
        out.set(`${shelf}:${bucket.b}`, bucket.parts);
      }
    }
    return out;
  }

  /** Drop every part of one pursuance's read model (before it is written again from a replay). */
  public async clear(q: Query, pursuanceId: string): Promise<void> {
    await q.query(
      `DELETE FROM node_sealed_projections WHERE pursuance_tag IN (?, ?, ?)`,
      SHELVES.map((shelf) => this.#pursuanceTag(pursuanceId, shelf)),
    );
  }

  /** Every row, opened and checked against its tags: the parts read later included (tools and tests). */
  public readAll(q: Query): Promise<StoredProjections> {
    return this.#read(q, null, (p, shelf) => this.#pursuanceTag(p, shelf));
  }

  /**
   * The parts of these pursuances read at start-up (every part but those named LATER_PREFIX… or LIST_PREFIX…).
   * A pursuance whose rows are in the older, unbucketed layout is left out (LegacyProjectionLayoutError
   * is not thrown here: the caller sees no stored read model, and the replay rewrites it).
   */
  public async readNow(q: Query, pursuanceIds: readonly string[]): Promise<StoredProjections> {
    const out: StoredProjections = new Map();
    for (const id of pursuanceIds) {
      try {
        const one = await this.#read(q, [this.#pursuanceTag(id, SHELF.now)], (p, s) => (s !== SHELF.now || p !== id ? null : this.#pursuanceTag(p, s)));
        const parts = one.get(id);
        if (parts) out.set(id, parts);
      } catch (err) {
        if (!(err instanceof LegacyProjectionLayoutError)) throw err;
      }
    }
    return out;
  }

  /**
   * One pursuance's parts on one shelf (LATER_PREFIX…, LIST_PREFIX…); `pause` is awaited after
   * each page of rows opened (a big board's list is tens of megabytes to open). `keep` turns
   * each part's text into what the caller keeps of it, page by page, so a shelf the caller
   * keeps only digests of is never in memory whole (the histories: ~170 MB at a million events).
   */
  public async readShelf(
    q: Query,
    pursuanceId: string,
    shelf: Shelf,
    pause?: () => Promise<void>,
    keep?: (name: string, json: string) => string,
  ): Promise<Map<string, string>> {
    const out = await this.#read(
      q,
      [this.#pursuanceTag(pursuanceId, shelf)],
      (p, s) => (p === pursuanceId && s === shelf ? this.#pursuanceTag(p, s) : null),
      pause,
      keep,
    );
    return out.get(pursuanceId) ?? new Map<string, string>();
  }

  /** One part, or undefined when it is not stored. */
  public async readOne(q: Query, pursuanceId: string, name: string): Promise<string | undefined> {
    const shelf = shelfOf(name);
    const b = this.#bucketOf(pursuanceId, name);
    const parts = (await this.#readBuckets(q, pursuanceId, [[shelf, b]])).get(`${shelf}:${b}`);
    return parts?.get(name);
  }

  /**
   * Open and check rows: all of them (`tags` null) or those under these pursuance tags, in
   * keyset pages over the primary key (memory stays flat on big read models), the next page's
   * query running while this one's rows are opened. `expected` gives the pursuance tag a row of
   * (pursuance, shelf) must sit under, or null when it may not be read here. `pause` is awaited
   * after each page opened; `keep` (see readShelf) is applied to each part as its row opens.
   */
  async #read(
    q: Query,
    tags: readonly string[] | null,
    expected: (p: string, shelf: Shelf) => string | null,
    pause?: () => Promise<void>,
    keep?: (name: string, json: string) => string,
  ): Promise<StoredProjections> {
    const out: StoredProjections = new Map();
    // Many rows share a pursuance and shelf: their tags are worked out once.
    const known = new Map<string, string | null>();
    const expectedTag = (p: string, shelf: Shelf): string | null => {
      const key = `${shelf}${p}`;
      if (!known.has(key)) known.set(key, expected(p, shelf));
      return known.get(key)!;
    };
    // With pauses, pages of a few rows: at a million events a list row is ~160 KB to open.
    const limit = pause ? PAUSED_PAGE_ROWS : PAGE_ROWS;
    const page = (tag: string | null, after: readonly [string, string]) =>
      q.query<Row[]>(
        tag === null
          ? `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections WHERE (pursuance_tag, name_tag) > (?, ?) ORDER BY pursuance_tag, name_tag LIMIT ${limit}`
          : `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections WHERE pursuance_tag = ? AND name_tag > ? ORDER BY name_tag LIMIT ${limit}`,
        [...after],
      );
    for (const tag of tags ?? [null]) {
      let next = page(tag, [tag ?? '', '']);
      for (;;) {
        const rows = await next;
        if (rows.length === 0) break;
        const last = rows.at(-1)!;
        next = page(tag, [last.pursuance_tag, last.name_tag]);
        // A failed read-ahead is the next iteration's to report; it must not go unhandled meanwhile.
        next.catch(() => undefined);
        for (const row of rows) {
          const bucket = this.#openRow(row, expectedTag);
          let parts = out.get(bucket.p);
          if (!parts) out.set(bucket.p, (parts = new Map<string, string>()));
          for (const [name, json] of bucket.parts) parts.set(name, keep ? keep(name, json) : json);
        }
        await pause?.();
      }
    }
    return out;
  }

  #openRow(row: Row, expected: (p: string, shelf: Shelf) => string | null): Bucket {
    const record = this.keys.open(row.sealed, [RECORD, LEGACY_RECORD]);
    const { t, p, s, b, parts } = record;
    if (typeof p !== 'string') throw new StoreCorruptError('a stored read-model row is malformed');
    if (t === LEGACY_RECORD) throw new LegacyProjectionLayoutError(p);
    if (!isShelf(s) || typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b >= BUCKETS[s] || !Array.isArray(parts))
      throw new StoreCorruptError('a stored read-model row is malformed');
    const shelf = s;
    if (expected(p, shelf) !== row.pursuance_tag || this.#bucketTag(p, shelf, b) !== row.name_tag)
      throw new StoreCorruptError('a stored read-model row is not where it belongs');
    const out = new Map<string, string>();
    for (const pair of parts) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new StoreCorruptError('a stored read-model row is malformed');
      const [name, json] = pair as readonly unknown[];
      if (typeof name !== 'string' || typeof json !== 'string' || shelfOf(name) !== shelf || out.has(name))
        throw new StoreCorruptError('a stored read-model row is malformed');
      out.set(name, json);
    }
    return { p, shelf, b, parts: out };
  }
}
