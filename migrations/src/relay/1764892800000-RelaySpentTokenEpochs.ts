import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Token key epochs: a spent token is (epoch, input), and a whole epoch's rows are dropped once
 * its key redeems nothing. The tokens spent before this migration were issued under the
 * retired single token key, which no epoch uses, so none of them can be presented again:
 * they are not carried over. Going down restores the old table empty, for the same reason.
 */
export class RelaySpentTokenEpochs1764892800000 implements MigrationInterface {
  public readonly name = 'RelaySpentTokenEpochs1764892800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "relay_spent_tokens"`);
    await queryRunner.query(
      `CREATE TABLE "relay_spent_tokens" ("epoch" integer NOT NULL, "input" blob NOT NULL, PRIMARY KEY ("epoch", "input")) WITHOUT ROWID`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "relay_spent_tokens"`);
    await queryRunner.query(`CREATE TABLE "relay_spent_tokens" ("input" blob PRIMARY KEY NOT NULL) WITHOUT ROWID`);
  }
}
