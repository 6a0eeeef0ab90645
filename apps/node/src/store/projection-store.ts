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

  /** Apply one write inside the caller's transaction. */
  public async write(q: Query, w: ProjectionWrite): Promise<void> {
    const pursuanceTag = this.keys.tag('pursuance', w.pursuanceId);
    const upserts = [...w.upserts];
    for (let i = 0; i < upserts.length; i += BATCH) {
      const batch = upserts.slice(i, i + BATCH);
      const params: unknown[] = [];
      for (const [name, json] of batch)
        params.push(pursuanceTag, this.#nameTag(w.pursuanceId, name), this.keys.seal({ t: 'projection', p: w.pursuanceId, n: name, v: json }));
      await q.query(
        `INSERT INTO node_sealed_projections (pursuance_tag, name_tag, sealed) VALUES ${batch.map(() => '(?, ?, ?)').join(', ')}
         ON CONFLICT(pursuance_tag, name_tag) DO UPDATE SET sealed = excluded.sealed`,
        params,
      );
    }
    for (let i = 0; i < w.deletes.length; i += BATCH) {
      const batch = w.deletes.slice(i, i + BATCH);
      await q.query(`DELETE FROM node_sealed_projections WHERE pursuance_tag = ? AND name_tag IN (${batch.map(() => '?').join(', ')})`, [
        pursuanceTag,
        ...batch.map((name) => this.#nameTag(w.pursuanceId, name)),
      ]);
    }
  }

  /** Drop every part of one pursuance's read model (before it is written again from a replay). */
  public async clear(q: Query, pursuanceId: string): Promise<void> {
    await q.query(`DELETE FROM node_sealed_projections WHERE pursuance_tag = ?`, [this.keys.tag('pursuance', pursuanceId)]);
  }

  /** Read every row, opened and checked against its tags. */
  public async readAll(q: Query): Promise<StoredProjections> {
    const out: StoredProjections = new Map();
    // One pursuance has thousands of rows: its tag is worked out once.
    const pursuanceTags = new Map<string, string>();
    const pursuanceTag = (p: string): string => {
      let tag = pursuanceTags.get(p);
      if (tag === undefined) pursuanceTags.set(p, (tag = this.keys.tag('pursuance', p)));
      return tag;
    };
    for (let after = ['', '']; ;) {
      // Keyset pages over the primary key keep memory flat on big read models.
      const rows = await q.query<{ pursuance_tag: string; name_tag: string; sealed: Buffer }[]>(
        `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections WHERE (pursuance_tag, name_tag) > (?, ?) ORDER BY pursuance_tag, name_tag LIMIT 2000`,
        after,
      );
      if (rows.length === 0) return out;
      const last = rows.at(-1)!;
      after = [last.pursuance_tag, last.name_tag];
      for (const row of rows) {
        const r = this.keys.open(row.sealed, 'projection');
        const { p, n, v } = r;
        if (typeof p !== 'string' || typeof n !== 'string' || typeof v !== 'string') throw new StoreCorruptError('a stored read-model row is malformed');
        if (pursuanceTag(p) !== row.pursuance_tag || this.#nameTag(p, n) !== row.name_tag)
          throw new StoreCorruptError('a stored read-model row is not where it belongs');
        let parts = out.get(p);
        if (!parts) out.set(p, (parts = new Map<string, string>()));
        parts.set(n, v);
      }
    }
  }
}
