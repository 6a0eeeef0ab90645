import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/** Where an event came from: signed here, from the pursuance's group, or repaired from a peer. */
export type EventOrigin = 'local' | 'group' | 'peer' | 'import';

@Entity({ name: 'node_events' })
@Index('IDX_node_events_pursuance_seq', ['pursuanceId', 'seq'])
export class StoredEventRow {
  @PrimaryGeneratedColumn() seq!: number;
  @Column({ type: 'varchar', length: 64, unique: true }) id!: string;
  @Column({ name: 'pursuance_id', type: 'varchar', length: 64 }) pursuanceId!: string;
  @Column({ type: 'varchar', length: 32 }) kind!: string;
  @Column({ type: 'varchar', length: 56 }) author!: string;
  @Column({ type: 'varchar', length: 16 }) origin!: string;
  @Column({ name: 'received_at', type: 'integer' }) receivedAt!: number;
  @Column({ type: 'blob' }) bytes!: Buffer;
}

@Entity({ name: 'node_rejected_inputs' })
export class RejectedInputRow {
  @PrimaryColumn({ type: 'varchar', length: 64 }) hash!: string;
  @Column({ name: 'pursuance_id', type: 'varchar', length: 64, nullable: true }) pursuanceId!: string | null;
  @Column({ type: 'varchar', length: 32 }) code!: string;
  @Column({ type: 'text' }) reason!: string;
  @Column({ type: 'varchar', length: 16 }) origin!: string;
  @Column({ name: 'received_at', type: 'integer' }) receivedAt!: number;
  @Column({ type: 'blob' }) bytes!: Buffer;
}

export const nodeEntities = [StoredEventRow, RejectedInputRow];
