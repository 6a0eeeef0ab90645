/**
 * @packageDocumentation
 * TypeORM migrations, one folder per database (relay/, node/), exported as explicit class
 * lists so apps load exactly these (no globbing of files at run time), in order.
 */
export {};
