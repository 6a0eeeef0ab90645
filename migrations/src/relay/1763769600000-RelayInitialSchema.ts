import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay's first schema: messages (seq, signature, ciphertext) and spent token inputs.
 * `seq` is AUTOINCREMENT so pruning the newest rows can never lead to a seq being reused;
 * spent tokens are a WITHOUT ROWID table keyed by the input itself (one B-tree, no rowid).
 * The constraint name is the one TypeORM derives for the entity, so schema diffs stay empty.
 */
export class RelayInitialSchema1763769600000 implements MigrationInterface {
  public readonly name = 'RelayInitialSchema1763769600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "relay_messages" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "signature" blob NOT NULL, "ciphertext" blob NOT NULL, CONSTRAINT "UQ_ac0685de115a9e05574d13878b3" UNIQUE ("signature"))`,
    );
    await queryRunner.query(`CREATE TABLE "relay_spent_tokens" ("input" blob PRIMARY KEY NOT NULL) WITHOUT ROWID`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "relay_spent_tokens"`);
    await queryRunner.query(`DROP TABLE "relay_messages"`);
  }
}
