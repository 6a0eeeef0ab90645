import { RelayInitialSchema1763769600000 } from './1763769600000-RelayInitialSchema.js';
import { RelayStoreDays1764806400000 } from './1764806400000-RelayStoreDays.js';

/** Every relay migration, oldest first. Append new ones; never edit or reorder old ones. */
export const relayMigrations = [RelayInitialSchema1763769600000, RelayStoreDays1764806400000];
