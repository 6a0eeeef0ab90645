import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention: per UTC day, the last seq stored that day. Messages already stored get the day of
 * the migration (their real day is unknown), so they expire one window after the upgrade at the
 * latest and never earlier than they would have.
 */
export class RelayStoreDays1764806400000 implements MigrationInterface {
  public readonly name = 'RelayStoreDays1764806400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "relay_store_days" ("day" integer PRIMARY KEY NOT NULL, "last_seq" integer NOT NULL)`);
    await queryRunner.query(
      `INSERT INTO "relay_store_days" ("day", "last_seq") SELECT CAST(strftime('%s', 'now') AS integer) / 86400, MAX("seq") FROM "relay_messages" HAVING COUNT(*) > 0`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "relay_store_days"`);
  }
}
