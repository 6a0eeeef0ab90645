import { InvalidKeyError } from './errors.js';
import { sha512 } from './hash.js';

/**
 * A "compare this code in person" number for a pair of ed25519 identities: both people see the
 * same 60 digits, so reading them to each other over a channel they trust proves no third key
 * sits in between. Uses the package's own SHA-512 (node:crypto) rather than a second hash library.
 */

// Domain separation: these digits must never collide with any other hash of the same keys.
const LABEL = new TextEncoder().encode('pursuance safety number v1\0');

export const SAFETY_NUMBER_GROUPS = 12;
export const SAFETY_NUMBER_GROUP_DIGITS = 5;

/** Twelve space-separated groups of five digits, e.g. "01234 56789 ...". */
export const SAFETY_NUMBER_PATTERN = /^\d{5}(?: \d{5}){11}$/;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

export function safetyNumber(publicKeyA: Uint8Array, publicKeyB: Uint8Array): string {
  if (publicKeyA.length !== 32 || publicKeyB.length !== 32) {
    throw new InvalidKeyError('a safety number needs two 32-byte ed25519 public keys');
  }
  // Sorting makes the number the same whichever side computes it.
  const [first, second] = compareBytes(publicKeyA, publicKeyB) <= 0 ? [publicKeyA, publicKeyB] : [publicKeyB, publicKeyA];
  const digest = sha512(LABEL, first, second);
  const groups: string[] = [];
  for (let g = 0; g < SAFETY_NUMBER_GROUPS; g++) {
    // 40 bits per group reduced mod 10^5: the bias (2^40 / 10^5 is not whole) is below 10^-7.
    let value = 0;
    for (let i = 0; i < 5; i++) value = value * 256 + (digest[g * 5 + i] as number);
    groups.push(String(value % 100_000).padStart(SAFETY_NUMBER_GROUP_DIGITS, '0'));
  }
  return groups.join(' ');
}
