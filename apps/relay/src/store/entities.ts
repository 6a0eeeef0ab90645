import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The relay's two tables. They hold exactly what the relay must keep: (signature, ciphertext)
 * in storage order, and the inputs of spent tokens. No client identities, no addresses, no
 * timestamps. The schema itself is created by migrations (migrations/src/relay), never by
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

@Entity({ name: 'relay_spent_tokens', withoutRowid: true })
export class SpentTokenRow {
  @PrimaryColumn({ type: 'blob' })
  public input!: Buffer;
}

export const relayEntities = [MessageRow, SpentTokenRow];
