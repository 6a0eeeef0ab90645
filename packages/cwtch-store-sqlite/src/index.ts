/**
 * @packageDocumentation
 * The cwtch ProfileStore on SQLite (TypeORM + sqlite3, WAL, migrations from
 * @pursuance/migrations as `cwtchMigrations`). Passes the same conformance suite as the
 * in-memory store.
 */
export { TypeormProfileStore, type TypeormProfileStoreOptions } from './typeorm-profile-store.js';
