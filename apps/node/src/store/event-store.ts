import type { DataSource } from 'typeorm';
import { nodeMigrations, openDurableSqlite } from '@pursuance/migrations';
import type { Rejection, SignedEvent } from '@pursuance/pursuance';
import { nodeEntities, RejectedInputRow, StoredEventRow, type EventOrigin } from './entities.js';

export interface StoredEvent {
  readonly seq: number;
  readonly id: string;
  readonly pursuanceId: string;
  readonly bytes: Uint8Array;
}

/**
 * The append-only event store (SQLite through TypeORM, WAL, synchronous=FULL): an append
 * resolves only after its transaction is on disk, so an event the node acknowledged (to its
 * user, or as synced) survives a crash. Appends are idempotent by event id. Nothing is ever
 * updated or deleted; projections are rebuilt from here.
 */
export class EventStore {
  private constructor(public readonly dataSource: DataSource) {}

  public static async open(path: string): Promise<EventStore> {
    const { writer } = await openDurableSqlite({ path, entities: nodeEntities, migrations: nodeMigrations });
    return new EventStore(writer);
  }

  /** Append events in one transaction; returns how many were new. */
  public async append(events: readonly SignedEvent[], origin: EventOrigin, now: number = Date.now()): Promise<number> {
    if (events.length === 0) return 0;
    return this.dataSource.transaction(async (tx) => {
      let inserted = 0;
      for (const e of events) {
        await tx.query(
          `INSERT OR IGNORE INTO node_events (id, pursuance_id, kind, author, origin, received_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [e.id, e.pursuanceId ?? e.id, e.header.kind, e.author, origin, now, Buffer.from(e.bytes)],
        );
        const [row] = await tx.query<{ n: number }[]>('SELECT changes() AS n');
        inserted += row?.n ?? 0;
      }
      return inserted;
    });
  }

  /** Keep an input that never parsed, verified or belonged anywhere, with the reason. */
  public async recordInvalid(rejection: Rejection, bytes: Uint8Array, origin: EventOrigin, pursuanceId: string | null, now: number = Date.now()): Promise<void> {
    await this.dataSource.query(
      `INSERT OR IGNORE INTO node_rejected_inputs (hash, pursuance_id, code, reason, origin, received_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [rejection.eventId, pursuanceId, rejection.code, rejection.reason, origin, now, Buffer.from(bytes)],
    );
  }

  public async pursuanceIds(): Promise<string[]> {
    const rows = await this.dataSource.query<{ id: string }[]>(`SELECT DISTINCT pursuance_id AS id FROM node_events ORDER BY pursuance_id`);
    return rows.map((r) => r.id);
  }

  public async count(pursuanceId?: string): Promise<number> {
    const rows = pursuanceId
      ? await this.dataSource.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM node_events WHERE pursuance_id = ?`, [pursuanceId])
      : await this.dataSource.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM node_events`);
    return rows[0]?.n ?? 0;
  }

  /** Stream a pursuance's events in arrival order, in pages (keeps memory flat on big stores). */
  public async *stream(pursuanceId: string, pageSize = 2000): AsyncGenerator<StoredEvent[]> {
    let after = 0;
    for (;;) {
      const rows = await this.dataSource.query<{ seq: number; id: string; pursuanceId: string; bytes: Buffer }[]>(
        `SELECT seq, id, pursuance_id AS pursuanceId, bytes FROM node_events WHERE pursuance_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
        [pursuanceId, after, pageSize],
      );
      if (rows.length === 0) return;
      after = rows.at(-1)!.seq;
      yield rows.map((r) => ({ seq: r.seq, id: r.id, pursuanceId: r.pursuanceId, bytes: new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) }));
    }
  }

  public async rejectedInputs(pursuanceId: string): Promise<RejectedInputRow[]> {
    return this.dataSource.getRepository(RejectedInputRow).find({ where: { pursuanceId }, order: { receivedAt: 'ASC' } });
  }

  public async close(): Promise<void> {
    await this.dataSource.destroy();
  }
}

export { StoredEventRow };
