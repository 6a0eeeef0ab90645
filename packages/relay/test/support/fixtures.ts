import { Identity, type OnionName } from '@pursuance/crypto';
import { blindInputs, evaluateBlindedBatch, finalizeBatch, newTokenInputs, type VoprfKeyPair } from '../../src/index.js';
import type { Token } from '../../src/tokens.js';

// One definition, shipped with the test kit (store implementers need it too).
export { randomMessage } from '../../src/testing/fixtures.js';

/** Issue tokens directly with the key (no network), for tests of spending. */
export function issueTokens(key: VoprfKeyPair, count: number): Token[] {
  const items = blindInputs(newTokenInputs(count));
  const batch = evaluateBlindedBatch(
    key,
    items.map((i) => i.blinded),
  );
  const outputs = finalizeBatch(items, batch.evaluated, key.publicKey, batch.proof);
  return items.map((item, i) => ({ epoch: 0, input: item.input, output: outputs[i]! }));
}

export function randomOnion(): OnionName {
  return Identity.generate().onion;
}
