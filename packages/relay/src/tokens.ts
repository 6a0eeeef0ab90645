import { randomBytes } from 'node:crypto';
import { equalBytes, hmacSha256, type OnionName } from '@pursuance/crypto';
import { postBytes, type EncryptedGroupMessage } from './group-message.js';
import { TOKEN_INPUT_SIZE, TOKEN_MAC_SIZE } from './protocol-profile.js';
import { evaluateInput } from './voprf.js';

/**
 * Privacy Pass tokens over the VOPRF. A token is a random input t and its PRF output under the
 * relay's key, obtained blindly (the token service never saw t). Spending reveals t and a MAC
 * keyed by the output over the exact post and the board's onion, so the relay can recompute
 * the output from t, check the MAC, and refuse t ever again; and a token cannot be lifted from
 * one post onto another, nor onto another relay.
 */
export interface Token {
  /** The key epoch it was issued under (the relay redeems it with that epoch's key). */
  readonly epoch: number;
  readonly input: Uint8Array;
  readonly output: Uint8Array;
}

/** What travels with a post: `{E, T, MAC}` on the wire. */
export interface SpentToken {
  readonly epoch: number;
  readonly input: Uint8Array;
  readonly mac: Uint8Array;
}

export function newTokenInputs(count: number): Uint8Array[] {
  return Array.from({ length: count }, () => new Uint8Array(randomBytes(TOKEN_INPUT_SIZE)));
}

const encoder = new TextEncoder();

function spendMac(output: Uint8Array, message: EncryptedGroupMessage, boardOnion: OnionName): Uint8Array {
  return hmacSha256(output, postBytes(message), encoder.encode(boardOnion));
}

/** Client: bind `token` to exactly this post on exactly this board. */
export function spendToken(token: Token, message: EncryptedGroupMessage, boardOnion: OnionName): SpentToken {
  return { epoch: token.epoch, input: token.input, mac: spendMac(token.output, message, boardOnion) };
}

/**
 * Relay: does `spent` authorise this post here, given the secret key of the token's epoch?
 * (Whether the epoch is still redeemed is the keyring's business, and whether t was used
 * before the store's; this only checks the PRF and the binding.)
 */
export function verifySpentToken(secretKey: Uint8Array, spent: SpentToken, message: EncryptedGroupMessage, boardOnion: OnionName): boolean {
  if (spent.input.length !== TOKEN_INPUT_SIZE || spent.mac.length !== TOKEN_MAC_SIZE) return false;
  const output = evaluateInput(secretKey, spent.input);
  return equalBytes(spent.mac, spendMac(output, message, boardOnion));
}
