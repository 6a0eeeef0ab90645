import { RelayPostgresInitialSchema1764979200000 } from './1764979200000-RelayPostgresInitialSchema.js';
import { RelayPostgresStoreBuckets1765152000000 } from './1765152000000-RelayPostgresStoreBuckets.js';

/**
 * Every migration of the relay's PostgreSQL schema, oldest first. A separate history from the
 * SQLite one (relay/): the two databases never share a file. Append new ones; never edit or
 * reorder old ones.
 */
export const relayPostgresMigrations = [RelayPostgresInitialSchema1764979200000, RelayPostgresStoreBuckets1765152000000];
