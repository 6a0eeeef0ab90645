// The setup file of the projects whose tests build token keyrings or call the VOPRF directly
// (vitest.config.ts): they do it synchronously, as a relay does once its start-up has awaited this.
import { loadVoprf } from '../../packages/relay/src/voprf.js';

await loadVoprf();
