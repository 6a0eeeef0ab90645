import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Persisted read models (apps/node/src/store/projection-store.ts): sealed rows keyed by tags of
 * the pursuance and of the part's name. A store from before has none; the node writes them
 * from a full replay at its next start, then starts from them.
 */
export class NodeProjections1765152000000 implements MigrationInterface {
  public readonly name = 'NodeProjections1765152000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "node_sealed_projections" ("pursuance_tag" varchar(64) NOT NULL, "name_tag" varchar(64) NOT NULL, "sealed" blob NOT NULL, PRIMARY KEY ("pursuance_tag", "name_tag"))`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "node_sealed_projections"`);
  }
}
