import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** Where an event came from: signed here, from the pursuance's group, or repaired from a peer. */
export type EventOrigin = 'local' | 'group' | 'peer' | 'import';

/**
 * The node database at rest holds no content and no identity in the clear. Every value that
 * says anything (event bytes, authors, kinds, origins, times, rejection reasons, key secrets)
 * is sealed with the store key (see store-keys.ts); the only clear columns are what SQLite
 * needs to index: keyed hashes (tags) of event and pursuance ids, which nobody without the
 * store key can link to an id, and local sequence numbers. The schema is created by the
 * migrations in migrations/src/node, never by `synchronize`; a test checks they agree.
 */

/** One signed event per row, unique by (the tag of) its id, in local arrival order. */
@Entity({ name: 'node_sealed_events' })
@Unique('UQ_node_sealed_events_event_tag', ['eventTag'])
@Index('IDX_node_sealed_events_pursuance_seq', ['pursuanceTag', 'seq'])
export class SealedEventRow {
  @PrimaryGeneratedColumn({ type: 'integer' }) seq!: number;
  @Column({ name: 'event_tag', type: 'varchar', length: 64 }) eventTag!: string;
  @Column({ name: 'pursuance_tag', type: 'varchar', length: 64 }) pursuanceTag!: string;
  @Column({ type: 'blob' }) sealed!: Buffer;
}

/** An input that never parsed, verified or belonged anywhere, kept with its reason. */
@Entity({ name: 'node_sealed_rejects' })
@Unique('UQ_node_sealed_rejects_input_tag', ['inputTag'])
@Index('IDX_node_sealed_rejects_pursuance_seq', ['pursuanceTag', 'seq'])
export class SealedRejectRow {
  @PrimaryGeneratedColumn({ type: 'integer' }) seq!: number;
  @Column({ name: 'input_tag', type: 'varchar', length: 64 }) inputTag!: string;
  @Column({ name: 'pursuance_tag', type: 'varchar', length: 64, nullable: true }) pursuanceTag!: string | null;
  @Column({ type: 'blob' }) sealed!: Buffer;
}

/**
 * Random 32-byte secrets for role keys this node will create, each at rest before it is handed
 * to an author; `used` once an event made with it is stored (kept: they rebuild the keys).
 */
@Entity({ name: 'node_key_vault' })
export class KeySecretRow {
  @PrimaryGeneratedColumn({ type: 'integer' }) seq!: number;
  @Column({ type: 'boolean', default: false }) used!: boolean;
  @Column({ type: 'blob' }) sealed!: Buffer;
}

/** Small sealed facts about the store itself (a check value that the store key is right). */
@Entity({ name: 'node_store_meta' })
export class StoreMetaRow {
  @PrimaryColumn({ type: 'varchar', length: 32 }) name!: string;
  @Column({ type: 'blob' }) value!: Buffer;
}

/**
 * The persisted read models (projections): the named parts of a pursuance's read model (its
 * summary, members, roles, rules, feed, rejections, each task and its history, and a checkpoint),
 * sealed in keyed buckets of parts (store/projection-store.ts), written in the same transaction
 * as the events they come from. Both key columns are tags.
 */
@Entity({ name: 'node_sealed_projections' })
export class SealedProjectionRow {
  @PrimaryColumn({ name: 'pursuance_tag', type: 'varchar', length: 64 }) pursuanceTag!: string;
  @PrimaryColumn({ name: 'name_tag', type: 'varchar', length: 64 }) nameTag!: string;
  @Column({ type: 'blob' }) sealed!: Buffer;
}

export const nodeEntities = [SealedEventRow, SealedRejectRow, KeySecretRow, StoreMetaRow, SealedProjectionRow];
