/**
 * @packageDocumentation
 * The pursuance core: signed meta-messages (events) forming a DAG, rules compiled to CASL
 * abilities, per-role keys distributed by lockboxes, and a deterministic fold that every
 * member runs to reach the same public state (and state hash) whatever order events arrive
 * in. Pure: no network, no storage, no clock except what callers pass in.
 *
 * @example
 * ```ts
 * const founder = PursuanceAuthor.create(identity, { name: 'Cell 7', rules });
 * const task = founder.createTask({ audience: ['organizers'], title: 'Book the hall' });
 * founder.log.stateHash(); // equal on every member holding the same events
 * ```
 */
export * from './errors.js';
export * from './rules/schema.js';
export * from './rules/compile.js';
export * from './bodies.js';
export * from './envelope.js';
export * from './keys.js';
export * from './state.js';
export * from './applier.js';
export * from './log.js';
export * from './view.js';
export * from './author.js';
