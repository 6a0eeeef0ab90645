/**
 * @packageDocumentation
 * The relay daemon as a library (for tests and benchmarks): the TypeORM/SQLite store, the
 * daemon wiring, configuration and exit codes. The executable is `dist/main.js`.
 */
export * from './errors.js';
export * from './config.js';
export * from './logger.js';
export * from './keystore.js';
export * from './metrics.js';
export * from './relay-daemon.js';
export * from './store/entities.js';
export * from './store/typeorm-relay-store.js';
