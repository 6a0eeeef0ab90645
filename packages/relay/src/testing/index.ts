/**
 * @packageDocumentation
 * Test kits for implementers of this package's ports, shipped as `@pursuance/relay/testing`:
 * run the RelayStore contract suite against any store with
 * `runRelayStoreContractTests(setup, title?)`; `record()` and `randomMessage()` make posts of
 * the relay's sizes; `GatedStore` holds posts until the test releases them. Imports vitest, so only test code loads it.
 */
import { loadVoprf } from '../voprf.js';

// Tests build token keyrings (testTokenKeys) synchronously; programs await this in their start-up.
await loadVoprf();

export { record, runRelayStoreContractTests, type RelayStoreHarness } from './store-contract.js';
export { randomMessage, testTokenKeys } from './fixtures.js';
export { GatedStore } from './gated-store.js';
