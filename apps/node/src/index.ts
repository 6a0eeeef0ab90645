/**
 * @packageDocumentation
 * The local node: a NestJS + CQRS application that keeps each pursuance's signed log in an
 * SQLite event store, folds it with the pursuance core, and serves its own user on 127.0.0.1.
 */
export * from './start.js';
export * from './identity-store.js';
export * from './config.js';
export * from './domain/registry.js';
export * from './domain/read-models.js';
export * from './domain/errors.js';
export { relayBundleText } from './domain/relay-bundle-text.js';
export * from './domain/templates.js';
export * from './store/event-store.js';
export type { SyncStatus } from './sync/sync.service.js';
