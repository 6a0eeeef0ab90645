import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The node's event store: one row per signed event (raw bytes kept, unique by event id), in
 * local arrival order, plus the inputs that never parsed or verified (kept with their reason,
 * never silently dropped). Everything else the node shows is rebuilt from these by replay.
 */
export class NodeEventStore1763856000000 implements MigrationInterface {
  public readonly name = 'NodeEventStore1763856000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "node_events" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "id" varchar(64) NOT NULL, "pursuance_id" varchar(64) NOT NULL, "kind" varchar(32) NOT NULL, "author" varchar(56) NOT NULL, "origin" varchar(16) NOT NULL, "received_at" integer NOT NULL, "bytes" blob NOT NULL, CONSTRAINT "UQ_node_events_id" UNIQUE ("id"))`,
    );
    await q.query(`CREATE INDEX "IDX_node_events_pursuance_seq" ON "node_events" ("pursuance_id", "seq")`);
    await q.query(
      `CREATE TABLE "node_rejected_inputs" ("hash" varchar(64) PRIMARY KEY NOT NULL, "pursuance_id" varchar(64), "code" varchar(32) NOT NULL, "reason" text NOT NULL, "origin" varchar(16) NOT NULL, "received_at" integer NOT NULL, "bytes" blob NOT NULL)`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "node_rejected_inputs"`);
    await q.query(`DROP INDEX "IDX_node_events_pursuance_seq"`);
    await q.query(`DROP TABLE "node_events"`);
  }
}
