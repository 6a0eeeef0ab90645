import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The relay's tables on PostgreSQL: the same four as on SQLite (see entities.ts), with
 * PostgreSQL's types. `bigint` comes back from `pg` as a string; the store converts, and the
 * migration bounds the seq sequence to 2^53 − 1 so a seq always fits a JS number. The schema
 * is created by migrations (migrations/src/relay-postgres), never by `synchronize`; a test
 * checks these entities and the migrations agree.
 */
@Entity({ name: 'relay_messages' })
export class PgMessageRow {
  /** A sequence (bigserial): a seq is never reused, not even after the newest rows were pruned. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  public seq!: string;

  @Column({ type: 'bytea', unique: true })
  public signature!: Buffer;

  @Column({ type: 'bytea' })
  public ciphertext!: Buffer;
}

/** A spent token is (key epoch, input); a whole epoch's rows go once its key redeems nothing. */
@Entity({ name: 'relay_spent_tokens' })
export class PgSpentTokenRow {
  @PrimaryColumn({ type: 'integer' })
  public epoch!: number;

  @PrimaryColumn({ type: 'bytea' })
  public input!: Buffer;
}

/** Per UTC day on which messages were stored, the last seq stored that day (retention). */
@Entity({ name: 'relay_store_days' })
export class PgStoreDayRow {
  /** Days since the Unix epoch (UTC). */
  @PrimaryColumn({ type: 'integer' })
  public day!: number;

  @Column({ type: 'bigint', name: 'last_seq' })
  public lastSeq!: string;
}

/** Per fetch bucket messages were filed under, the last seq filed under it (bucketed fetch). */
@Entity({ name: 'relay_store_buckets' })
export class PgStoreBucketRow {
  /** Bucket lengths since the Unix epoch (0 also holds the messages stored before buckets existed). */
  @PrimaryColumn({ type: 'integer' })
  public bucket!: number;

  @Column({ type: 'bigint', name: 'last_seq' })
  public lastSeq!: string;
}

export const relayPostgresEntities = [PgMessageRow, PgSpentTokenRow, PgStoreDayRow, PgStoreBucketRow];
