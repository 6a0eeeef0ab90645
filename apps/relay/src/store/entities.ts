import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The relay's tables. They hold exactly what the relay must keep: (signature, ciphertext)
 * in storage order, the spent tokens (epoch, input), for retention the last seq stored on each
 * UTC day, and for bucketed fetch the last seq filed under each fetch bucket. No client identities, no addresses, no per-message times. The schema itself is created by migrations (migrations/src/relay), never by
 * `synchronize`; a test checks these entities and the migrations agree.
 */
@Entity({ name: 'relay_messages' })
export class MessageRow {
  /** AUTOINCREMENT: a seq is never reused, even after the newest rows were pruned. */
  @PrimaryGeneratedColumn({ type: 'integer' })
  public seq!: number;

  @Column({ type: 'blob', unique: true })
  public signature!: Buffer;

  @Column({ type: 'blob' })
  public ciphertext!: Buffer;
}

/** A spent token is (key epoch, input); a whole epoch's rows go once its key redeems nothing. */
@Entity({ name: 'relay_spent_tokens', withoutRowid: true })
export class SpentTokenRow {
  @PrimaryColumn({ type: 'integer' })
  public epoch!: number;

  @PrimaryColumn({ type: 'blob' })
  public input!: Buffer;
}

/**
 * One row per UTC day on which messages were stored: the last seq stored that day. Retention
 * deletes messages up to the last seq of the days wholly past the window; a day is all the
 * time resolution the database keeps.
 */
@Entity({ name: 'relay_store_days' })
export class StoreDayRow {
  /** Days since the Unix epoch (UTC). */
  @PrimaryColumn({ type: 'integer' })
  public day!: number;

  @Column({ type: 'integer', name: 'last_seq' })
  public lastSeq!: number;
}

/**
 * One row per fetch bucket messages were filed under: the last seq filed under it. Members fetch
 * whole buckets by index, so the database keeps no finer time than the bucket; rows go with the
 * last of their messages.
 */
@Entity({ name: 'relay_store_buckets' })
export class StoreBucketRow {
  /** Bucket lengths since the Unix epoch (0 also holds the messages stored before buckets existed). */
  @PrimaryColumn({ type: 'integer' })
  public bucket!: number;

  @Column({ type: 'integer', name: 'last_seq' })
  public lastSeq!: number;
}

export const relayEntities = [MessageRow, SpentTokenRow, StoreDayRow, StoreBucketRow];
