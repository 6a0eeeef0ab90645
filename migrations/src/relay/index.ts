import { RelayInitialSchema1763769600000 } from './1763769600000-RelayInitialSchema.js';
import { RelayStoreDays1764806400000 } from './1764806400000-RelayStoreDays.js';
import { RelaySpentTokenEpochs1764892800000 } from './1764892800000-RelaySpentTokenEpochs.js';
import { RelayStoreBuckets1765152000000 } from './1765152000000-RelayStoreBuckets.js';

/** Every relay migration, oldest first. Append new ones; never edit or reorder old ones. */
export const relayMigrations = [
  RelayInitialSchema1763769600000,
  RelayStoreDays1764806400000,
  RelaySpentTokenEpochs1764892800000,
  RelayStoreBuckets1765152000000,
];
