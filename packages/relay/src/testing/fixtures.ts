import { randomBytes } from 'node:crypto';
import type { EncryptedGroupMessage } from '../group-message.js';
import { GROUP_CIPHERTEXT_SIZE, GROUP_SIGNATURE_SIZE } from '../protocol-profile.js';

/** A relay-sized message with random bytes (the relay never looks inside). */
export function randomMessage(): EncryptedGroupMessage {
  return { ciphertext: new Uint8Array(randomBytes(GROUP_CIPHERTEXT_SIZE)), signature: new Uint8Array(randomBytes(GROUP_SIGNATURE_SIZE)) };
}
