import { NodeEventStore1763856000000 } from './1763856000000-NodeEventStore.js';
import { NodeSealedRows1764720000000 } from './1764720000000-NodeSealedRows.js';
import { NodeProjections1765152000000 } from './1765152000000-NodeProjections.js';

/** The node database's migrations, in order. */
export const nodeMigrations = [NodeEventStore1763856000000, NodeSealedRows1764720000000, NodeProjections1765152000000];
export { NodeEventStore1763856000000, NodeSealedRows1764720000000, NodeProjections1765152000000 };
