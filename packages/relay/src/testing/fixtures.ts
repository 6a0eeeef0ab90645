import { randomBytes } from 'node:crypto';
import type { EncryptedGroupMessage } from '../group-message.js';
import { GROUP_CIPHERTEXT_SIZE, GROUP_SIGNATURE_SIZE } from '../protocol-profile.js';
import { TokenKeyring, type TokenEpochSchedule } from '../token-epochs.js';

/** A relay-sized message with random bytes (the relay never looks inside). */
export function randomMessage(): EncryptedGroupMessage {
  return { ciphertext: new Uint8Array(randomBytes(GROUP_CIPHERTEXT_SIZE)), signature: new Uint8Array(randomBytes(GROUP_SIGNATURE_SIZE)) };
}

/**
 * A throwaway token keyring for tests: 16 weekly epochs starting today (a relay's default
 * commits to 1024, which costs about half a second to derive at every start).
 */
export function testTokenKeys(overrides: Partial<Omit<TokenEpochSchedule, 'startSeconds'>> = {}): TokenKeyring {
  return TokenKeyring.generate({ count: 16, ...overrides });
}
