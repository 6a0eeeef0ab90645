import { CwtchInitialSchema1763942400000 } from './1763942400000-CwtchInitialSchema.js';

/** Every cwtch profile-store migration, oldest first. Append new ones; never edit or reorder old ones. */
export const cwtchMigrations = [CwtchInitialSchema1763942400000];
