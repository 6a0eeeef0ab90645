import { canonicalEncode } from '@pursuance/crypto';
import { GROUP_CIPHERTEXT_SIZE, GROUP_SIGNATURE_SIZE } from './protocol-profile.js';

/**
 * What the relay stores and forwards: Cwtch's EncryptedGroupMessage. The relay never looks
 * inside either field; it only enforces their fixed sizes.
 */
export interface EncryptedGroupMessage {
  readonly ciphertext: Uint8Array;
  readonly signature: Uint8Array;
}

/** True when both fields have the one size the relay accepts. */
export function hasRelaySizes(message: EncryptedGroupMessage): boolean {
  return message.ciphertext.length === GROUP_CIPHERTEXT_SIZE && message.signature.length === GROUP_SIGNATURE_SIZE;
}

/**
 * The exact bytes a spent token is bound to: the canonical encoding of {ciphertext, signature}
 * (one encoding per value, so client and relay agree byte for byte).
 */
export function postBytes(message: EncryptedGroupMessage): Uint8Array {
  return canonicalEncode({ ciphertext: message.ciphertext, signature: message.signature });
}
