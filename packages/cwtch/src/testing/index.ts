/**
 * @packageDocumentation
 * Test kits for implementers of this package's ports, shipped as `@pursuance/cwtch/testing`:
 * run the ProfileStore contract suite against any store with
 * `runProfileStoreContractTests(setup, title?)`. Imports vitest, so only test code loads it.
 */
export { runProfileStoreContractTests, type ProfileStoreHarness } from './profile-store-contract.js';
