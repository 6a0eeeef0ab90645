import type { EntityManager } from 'typeorm';
import { StoreCorruptError } from './errors.js';
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
const isLater = (name: string): boolean => name.startsWith(LATER_PREFIX);

type Query = Pick<EntityManager, 'query'>;

/** How many parts one statement writes (SQLite's default bound on variables is 32,766). */
const BATCH = 200;

/**
 * The sealed rows of the persisted read models (table node_sealed_projections). Rows are keyed
 * by tags, so the file does not show which pursuance or which task a row is about; a row
 * copied under another key is refused when opened (its sealed names must match its tags).
 */
export class ProjectionRows {
  public constructor(private readonly keys: StoreKeys) {}

  #nameTag(pursuanceId: string, name: string): string {
    return this.keys.tag('projection', `${pursuanceId}\u0000${name}`);
  }

  /** The tag of the pursuance's rows read at start-up, or of those read later. */
  #pursuanceTag(pursuanceId: string, later: boolean): string {
    return this.keys.tag('pursuance', later ? `${pursuanceId}\u0000${LATER_PREFIX}` : pursuanceId);
  }

  /** Apply one write inside the caller's transaction. */
  public async write(q: Query, w: ProjectionWrite): Promise<void> {
    const tags = [this.#pursuanceTag(w.pursuanceId, false), this.#pursuanceTag(w.pursuanceId, true)] as const;
    const upserts = [...w.upserts];
    for (let i = 0; i < upserts.length; i += BATCH) {
      const batch = upserts.slice(i, i + BATCH);
      const params: unknown[] = [];
      for (const [name, json] of batch)
        params.push(tags[isLater(name) ? 1 : 0], this.#nameTag(w.pursuanceId, name), this.keys.seal({ t: 'projection', p: w.pursuanceId, n: name, v: json }));
      await q.query(
        `INSERT INTO node_sealed_projections (pursuance_tag, name_tag, sealed) VALUES ${batch.map(() => '(?, ?, ?)').join(', ')}
         ON CONFLICT(pursuance_tag, name_tag) DO UPDATE SET sealed = excluded.sealed`,
        params,
      );
    }
    for (const later of [false, true]) {
      const names = w.deletes.filter((name) => isLater(name) === later);
      for (let i = 0; i < names.length; i += BATCH) {
        const batch = names.slice(i, i + BATCH);
        await q.query(`DELETE FROM node_sealed_projections WHERE pursuance_tag = ? AND name_tag IN (${batch.map(() => '?').join(', ')})`, [
          tags[later ? 1 : 0],
          ...batch.map((name) => this.#nameTag(w.pursuanceId, name)),
        ]);
      }
    }
  }

  /** Drop every part of one pursuance's read model (before it is written again from a replay). */
  public async clear(q: Query, pursuanceId: string): Promise<void> {
    await q.query(`DELETE FROM node_sealed_projections WHERE pursuance_tag IN (?, ?)`, [
      this.#pursuanceTag(pursuanceId, false),
      this.#pursuanceTag(pursuanceId, true),
    ]);
  }

  /** Every row, opened and checked against its tags: the parts read later included (tools and tests). */
  public readAll(q: Query): Promise<StoredProjections> {
    return this.#read(q, null, (p, name) => this.#pursuanceTag(p, isLater(name)));
  }

  /** The parts of these pursuances read at start-up (every part but those named LATER_PREFIX…). */
  public readNow(q: Query, pursuanceIds: readonly string[]): Promise<StoredProjections> {
    return this.#read(
      q,
      pursuanceIds.map((id) => this.#pursuanceTag(id, false)),
      (p, name) => (isLater(name) ? null : this.#pursuanceTag(p, false)),
    );
  }

  /** One pursuance's parts named LATER_PREFIX…. */
  public async readLater(q: Query, pursuanceId: string): Promise<Map<string, string>> {
    const out = await this.#read(q, [this.#pursuanceTag(pursuanceId, true)], (p, name) =>
      p === pursuanceId && isLater(name) ? this.#pursuanceTag(p, true) : null,
    );
    return out.get(pursuanceId) ?? new Map<string, string>();
  }

  /** One part, or undefined when it is not stored. */
  public async readOne(q: Query, pursuanceId: string, name: string): Promise<string | undefined> {
    const rows = await q.query<{ pursuance_tag: string; name_tag: string; sealed: Buffer }[]>(
      `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections WHERE pursuance_tag = ? AND name_tag = ?`,
      [this.#pursuanceTag(pursuanceId, isLater(name)), this.#nameTag(pursuanceId, name)],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    const { p, n, v } = this.#openRow(row, (rowP, rowN) => this.#pursuanceTag(rowP, isLater(rowN)));
    if (p !== pursuanceId || n !== name) throw new StoreCorruptError('a stored read-model row is not where it belongs');
    return v;
  }

  /**
   * Open and check rows: all of them (`tags` null) or those under these pursuance tags, in
   * keyset pages over the primary key (memory stays flat on big read models). `expected` gives
   * the pursuance tag a row of (pursuance, part) must sit under, or null when it may not be read here.
   */
  async #read(q: Query, tags: readonly string[] | null, expected: (p: string, name: string) => string | null): Promise<StoredProjections> {
    const out: StoredProjections = new Map();
    // One pursuance has thousands of rows: its tags are worked out once per pursuance and shelf.
    const known = new Map<string, string | null>();
    const expectedTag = (p: string, name: string): string | null => {
      const key = `${isLater(name) ? 1 : 0}${p}`;
      if (!known.has(key)) known.set(key, expected(p, name));
      return known.get(key)!;
    };
    for (const tag of tags ?? [null]) {
      for (let after = [tag ?? '', '']; ;) {
        const rows = await q.query<{ pursuance_tag: string; name_tag: string; sealed: Buffer }[]>(
          tag === null
            ? `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections WHERE (pursuance_tag, name_tag) > (?, ?) ORDER BY pursuance_tag, name_tag LIMIT 2000`
            : `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections WHERE pursuance_tag = ? AND name_tag > ? ORDER BY name_tag LIMIT 2000`,
          after,
        );
        if (rows.length === 0) break;
        const last = rows.at(-1)!;
        after = [last.pursuance_tag, last.name_tag];
        for (const row of rows) {
          const { p, n, v } = this.#openRow(row, (rowP, rowN) => expectedTag(rowP, rowN));
          let parts = out.get(p);
          if (!parts) out.set(p, (parts = new Map<string, string>()));
          parts.set(n, v);
        }
      }
    }
    return out;
  }

  #openRow(
    row: { pursuance_tag: string; name_tag: string; sealed: Buffer },
    expected: (p: string, name: string) => string | null,
  ): { p: string; n: string; v: string } {
    const { p, n, v } = this.keys.open(row.sealed, 'projection');
    if (typeof p !== 'string' || typeof n !== 'string' || typeof v !== 'string') throw new StoreCorruptError('a stored read-model row is malformed');
    if (expected(p, n) !== row.pursuance_tag || this.#nameTag(p, n) !== row.name_tag)
      throw new StoreCorruptError('a stored read-model row is not where it belongs');
    return { p, n, v };
  }
}
