import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bucketed fetch: per fetch bucket, the last seq filed under it (the PostgreSQL side of the
 * SQLite migration RelayStoreBuckets). The bucket a message already stored came in is unknown,
 * and guessing a recent one would hand old traffic to every member fetching that bucket; so they
 * are all filed under bucket 0, where only a fetch of the whole history (a member joining)
 * reaches them, and a fetch from any real bucket leaves them out. The constraint name is the one
 * TypeORM derives for the entity, so schema diffs stay empty.
 */
export class RelayPostgresStoreBuckets1765152000000 implements MigrationInterface {
  public readonly name = 'RelayPostgresStoreBuckets1765152000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "relay_store_buckets" ("bucket" integer NOT NULL, "last_seq" bigint NOT NULL, CONSTRAINT "PK_387a0e823ecfcf280031fa4ceac" PRIMARY KEY ("bucket"))`,
    );
    await queryRunner.query(`INSERT INTO "relay_store_buckets" ("bucket", "last_seq") SELECT 0, MAX("seq") FROM "relay_messages" HAVING COUNT(*) > 0`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "relay_store_buckets"`);
  }
}
