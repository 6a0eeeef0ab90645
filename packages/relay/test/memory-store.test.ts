import { runRelayStoreContractTests } from '@pursuance/relay/testing';
import { MemoryRelayStore } from '../src/index.js';
import { MemoryRelayState } from '../src/memory-store.js';

runRelayStoreContractTests(
  () => {
    const state = new MemoryRelayState();
    return Promise.resolve({
      open: (options = {}) => Promise.resolve(new MemoryRelayStore({ ...options, state })),
      cleanup: () => Promise.resolve(),
    });
  },
  'MemoryRelayStore',
  // No database to create per run: the bucket-mark property can afford many more.
  { propertyRuns: 200 },
);
