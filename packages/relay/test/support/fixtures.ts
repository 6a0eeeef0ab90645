import { randomBytes } from 'node:crypto';
import { Identity, type OnionName } from '@pursuance/crypto';
import { GROUP_CIPHERTEXT_SIZE, GROUP_SIGNATURE_SIZE, blindInputs, evaluateBlindedBatch, finalizeBatch, newTokenInputs, type EncryptedGroupMessage, type VoprfKeyPair } from '../src/index.js';
import type { Token } from '../src/tokens.js';

/** A relay-sized message with random bytes (the relay never looks inside). */
export function randomMessage(): EncryptedGroupMessage {
  return { ciphertext: new Uint8Array(randomBytes(GROUP_CIPHERTEXT_SIZE)), signature: new Uint8Array(randomBytes(GROUP_SIGNATURE_SIZE)) };
}

/** Issue tokens directly with the key (no network), for tests of spending. */
export function issueTokens(key: VoprfKeyPair, count: number): Token[] {
  const items = blindInputs(newTokenInputs(count));
  const batch = evaluateBlindedBatch(key, items.map((i) => i.blinded));
  const outputs = finalizeBatch(items, batch.evaluated, key.publicKey, batch.proof);
  return items.map((item, i) => ({ input: item.input, output: outputs[i]! }));
}

export function randomOnion(): OnionName {
  return Identity.generate().onion;
}
