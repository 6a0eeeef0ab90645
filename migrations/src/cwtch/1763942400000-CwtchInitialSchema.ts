import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The cwtch profile store's first schema: the sealed profile header (one row), and sealed
 * records keyed by (hashed collection, hashed key), listed in `seq` order. `seq` is
 * AUTOINCREMENT so it is never reused; replacing a value keeps its seq (an upsert). The
 * constraint and index names are the ones TypeORM derives for the entities, so schema diffs
 * stay empty.
 */
export class CwtchInitialSchema1763942400000 implements MigrationInterface {
  public readonly name = 'CwtchInitialSchema1763942400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "cwtch_profile_header" ("id" integer PRIMARY KEY NOT NULL, "header" blob NOT NULL)`);
    await queryRunner.query(
      `CREATE TABLE "cwtch_records" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "collection" varchar NOT NULL, "key" varchar NOT NULL, "value" blob NOT NULL, CONSTRAINT "UQ_e9d63a4aff961bcf490589c849e" UNIQUE ("collection", "key"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_6d70cc319ad67284c25298ee94" ON "cwtch_records" ("collection", "seq")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_6d70cc319ad67284c25298ee94"`);
    await queryRunner.query(`DROP TABLE "cwtch_records"`);
    await queryRunner.query(`DROP TABLE "cwtch_profile_header"`);
  }
}
