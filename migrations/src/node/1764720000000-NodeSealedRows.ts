import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The node store sealed at rest: events, rejected inputs, the key vault and a key check, each
 * row a sealed blob under clear keyed tags (see apps/node/src/store/entities.ts). The first
 * schema's plaintext tables are dropped here when empty; when they hold rows they stay until
 * the store opens with the profile's key (a migration never holds it), seals every row into
 * the new tables and drops them, in one transaction (EventStore.open).
 */
export class NodeSealedRows1764720000000 implements MigrationInterface {
  public readonly name = 'NodeSealedRows1764720000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "node_sealed_events" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "event_tag" varchar(64) NOT NULL, "pursuance_tag" varchar(64) NOT NULL, "sealed" blob NOT NULL, CONSTRAINT "UQ_node_sealed_events_event_tag" UNIQUE ("event_tag"))`,
    );
    await q.query(`CREATE INDEX "IDX_node_sealed_events_pursuance_seq" ON "node_sealed_events" ("pursuance_tag", "seq")`);
    await q.query(
      `CREATE TABLE "node_sealed_rejects" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "input_tag" varchar(64) NOT NULL, "pursuance_tag" varchar(64), "sealed" blob NOT NULL, CONSTRAINT "UQ_node_sealed_rejects_input_tag" UNIQUE ("input_tag"))`,
    );
    await q.query(`CREATE INDEX "IDX_node_sealed_rejects_pursuance_seq" ON "node_sealed_rejects" ("pursuance_tag", "seq")`);
    await q.query(
      `CREATE TABLE "node_key_vault" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "used" boolean NOT NULL DEFAULT (0), "sealed" blob NOT NULL)`,
    );
    await q.query(`CREATE TABLE "node_store_meta" ("name" varchar(32) PRIMARY KEY NOT NULL, "value" blob NOT NULL)`);
    const [events] = (await q.query(`SELECT COUNT(*) AS n FROM "node_events"`)) as { n: number }[];
    const [rejects] = (await q.query(`SELECT COUNT(*) AS n FROM "node_rejected_inputs"`)) as { n: number }[];
    if (events?.n === 0 && rejects?.n === 0) await dropPlaintextTables(q);
  }

  public async down(q: QueryRunner): Promise<void> {
    // Sealed rows cannot be turned back into plaintext here (no key): rolling back empties the
    // store, and restores the first schema's (empty) tables so its own down still applies.
    await q.query(`DROP TABLE "node_store_meta"`);
    await q.query(`DROP TABLE "node_key_vault"`);
    await q.query(`DROP INDEX "IDX_node_sealed_rejects_pursuance_seq"`);
    await q.query(`DROP TABLE "node_sealed_rejects"`);
    await q.query(`DROP INDEX "IDX_node_sealed_events_pursuance_seq"`);
    await q.query(`DROP TABLE "node_sealed_events"`);
    if (!(await q.hasTable('node_events'))) {
      await q.query(
        `CREATE TABLE "node_events" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "id" varchar(64) NOT NULL, "pursuance_id" varchar(64) NOT NULL, "kind" varchar(32) NOT NULL, "author" varchar(56) NOT NULL, "origin" varchar(16) NOT NULL, "received_at" integer NOT NULL, "bytes" blob NOT NULL, CONSTRAINT "UQ_node_events_id" UNIQUE ("id"))`,
      );
      await q.query(`CREATE INDEX "IDX_node_events_pursuance_seq" ON "node_events" ("pursuance_id", "seq")`);
      await q.query(
        `CREATE TABLE "node_rejected_inputs" ("hash" varchar(64) PRIMARY KEY NOT NULL, "pursuance_id" varchar(64), "code" varchar(32) NOT NULL, "reason" text NOT NULL, "origin" varchar(16) NOT NULL, "received_at" integer NOT NULL, "bytes" blob NOT NULL)`,
      );
    }
  }
}

/** Drop the first schema's (empty) plaintext tables. */
async function dropPlaintextTables(q: Pick<QueryRunner, 'query'>): Promise<void> {
  await q.query(`DROP INDEX IF EXISTS "IDX_node_events_pursuance_seq"`);
  await q.query(`DROP TABLE IF EXISTS "node_events"`);
  await q.query(`DROP TABLE IF EXISTS "node_rejected_inputs"`);
}
