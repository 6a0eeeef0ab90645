import { runProfileStoreContractTests } from '@pursuance/cwtch/testing';
import { MemoryProfileStore } from '../src/index.js';
import { MemoryProfileState } from '../src/store.js';

runProfileStoreContractTests(() => {
  const state = new MemoryProfileState();
  return Promise.resolve({
    open: () => Promise.resolve(new MemoryProfileStore(state)),
    snapshot: () =>
      Promise.resolve(
        JSON.stringify({
          header: state.header === undefined ? null : Buffer.from(state.header).toString('base64'),
          collections: [...state.collections].map(([c, records]) => [c, [...records].map(([k, r]) => [k, r.seq, Buffer.from(r.value).toString('base64')])]),
          lastSeq: state.lastSeq,
        }),
      ),
    cleanup: () => Promise.resolve(),
  });
}, 'memory');
