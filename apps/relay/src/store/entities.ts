import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The relay's tables. They hold exactly what the relay must keep: (signature, ciphertext)
 * in storage order, the spent tokens (epoch, input), and for retention the last seq stored on each
 * UTC day. No client identities, no addresses, no per-message times. The schema itself is created by migrations (migrations/src/relay), never by
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

export const relayEntities = [MessageRow, SpentTokenRow, StoreDayRow];
