import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Unique } from 'typeorm';

/**
 * The profile store's two tables. They hold only what the cwtch package hands over: one
 * password-sealed header, and sealed records under hashed collection names and keys, so the
 * database file reveals neither contents nor who the contacts and groups are. The schema is
 * created by migrations (migrations/src/cwtch), never by `synchronize`; a test checks these
 * entities and the migrations agree.
 */
@Entity({ name: 'cwtch_profile_header' })
export class ProfileHeaderRow {
  /** Always 1: a store holds one profile. */
  @PrimaryColumn({ type: 'integer' })
  public id!: number;

  @Column({ type: 'blob' })
  public header!: Buffer;
}

@Entity({ name: 'cwtch_records' })
@Unique(['collection', 'key'])
@Index(['collection', 'seq'])
export class ProfileRecordRow {
  /** AUTOINCREMENT: list order; kept when a record's value is replaced, never reused. */
  @PrimaryGeneratedColumn({ type: 'integer' })
  public seq!: number;

  @Column({ type: 'varchar' })
  public collection!: string;

  @Column({ type: 'varchar' })
  public key!: string;

  @Column({ type: 'blob' })
  public value!: Buffer;
}

export const cwtchEntities = [ProfileHeaderRow, ProfileRecordRow];
