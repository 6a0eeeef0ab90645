import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay's schema on PostgreSQL, equal in meaning to the SQLite relay schema after its
 * migrations (relay/): messages (seq, signature, ciphertext), spent tokens keyed by (epoch,
 * input), and the last seq stored on each UTC day. `seq` draws from a sequence, which never
 * hands a value out twice (not even when a transaction rolls back), so pruning the newest rows
 * can never lead to a seq being reused; the sequence stops at 2^53 − 1 so a seq always fits a
 * JS number. Constraint names are the ones TypeORM derives for the entities, so schema diffs
 * stay empty.
 */
export class RelayPostgresInitialSchema1764979200000 implements MigrationInterface {
  public readonly name = 'RelayPostgresInitialSchema1764979200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "relay_messages" ("seq" BIGSERIAL NOT NULL, "signature" bytea NOT NULL, "ciphertext" bytea NOT NULL, CONSTRAINT "UQ_ac0685de115a9e05574d13878b3" UNIQUE ("signature"), CONSTRAINT "PK_57a68413d3935ee1e3904393e39" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(`ALTER SEQUENCE "relay_messages_seq_seq" MAXVALUE 9007199254740991`);
    await queryRunner.query(
      `CREATE TABLE "relay_spent_tokens" ("epoch" integer NOT NULL, "input" bytea NOT NULL, CONSTRAINT "PK_12b5b83c24af695a3ee6b11c2aa" PRIMARY KEY ("epoch", "input"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "relay_store_days" ("day" integer NOT NULL, "last_seq" bigint NOT NULL, CONSTRAINT "PK_62a5fb6f8890ba9f106914628bc" PRIMARY KEY ("day"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "relay_store_days"`);
    await queryRunner.query(`DROP TABLE "relay_spent_tokens"`);
    await queryRunner.query(`DROP TABLE "relay_messages"`);
  }
}
