/**
 * @packageDocumentation
 * TypeORM migrations, one folder per database (relay/, relay-postgres/, node/), exported as explicit class
 * lists so apps load exactly these (no globbing of files at run time), in order.
 */
export { relayMigrations } from './relay/index.js';
export { RelayInitialSchema1763769600000 } from './relay/1763769600000-RelayInitialSchema.js';
export { relayPostgresMigrations } from './relay-postgres/index.js';
export { nodeMigrations, NodeEventStore1763856000000 } from './node/index.js';
export { cwtchMigrations } from './cwtch/index.js';
export { CwtchInitialSchema1763942400000 } from './cwtch/1763942400000-CwtchInitialSchema.js';
export { openDurableSqlite, ownerOnly, type DurableSqlite, type DurableSqliteOptions } from './open-sqlite.js';
