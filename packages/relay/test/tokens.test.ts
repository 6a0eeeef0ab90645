import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { generateVoprfKeyPair, spendToken, verifySpentToken } from '../src/index.js';
import { TOKEN_INPUT_SIZE, TOKEN_MAC_SIZE } from '../src/protocol-profile.js';
import { postBytes } from '../src/group-message.js';
import { issueTokens, randomMessage, randomOnion } from './support/fixtures.js';

describe('spending a token', () => {
  const key = generateVoprfKeyPair();
  const board = randomOnion();
  const [token] = issueTokens(key, 1);
  const message = randomMessage();
  const spent = spendToken(token!, message, board);

  it('reveals only t and a MAC of the expected sizes, and verifies on the issuing relay', () => {
    expect(spent.input).toEqual(token!.input);
    expect(spent.input.length).toBe(TOKEN_INPUT_SIZE);
    expect(spent.mac.length).toBe(TOKEN_MAC_SIZE);
    expect(verifySpentToken(key.secretKey, spent, message, board)).toBe(true);
  });

  it('is bound to the exact ciphertext and signature', () => {
    const ciphertext = new Uint8Array(message.ciphertext);
    ciphertext[4000] = ciphertext[4000]! ^ 1;
    expect(verifySpentToken(key.secretKey, spent, { ...message, ciphertext }, board)).toBe(false);
    const signature = new Uint8Array(message.signature);
    signature[0] = signature[0]! ^ 1;
    expect(verifySpentToken(key.secretKey, spent, { ...message, signature }, board)).toBe(false);
  });

  it('is bound to the board onion it was spent for (wrong relay binding)', () => {
    expect(verifySpentToken(key.secretKey, spent, message, randomOnion())).toBe(false);
  });

  it('is refused by a relay with another key, and a forged token (random output) is refused', () => {
    expect(verifySpentToken(generateVoprfKeyPair().secretKey, spent, message, board)).toBe(false);
    const forged = spendToken({ epoch: 0, input: new Uint8Array(randomBytes(32)), output: new Uint8Array(randomBytes(64)) }, message, board);
    expect(verifySpentToken(key.secretKey, forged, message, board)).toBe(false);
    // Another token's input with this token's MAC.
    const [other] = issueTokens(key, 1);
    expect(verifySpentToken(key.secretKey, { epoch: 0, input: other!.input, mac: spent.mac }, message, board)).toBe(false);
  });

  it('refuses malformed sizes without evaluating', () => {
    expect(verifySpentToken(key.secretKey, { epoch: 0, input: spent.input.subarray(1), mac: spent.mac }, message, board)).toBe(false);
    expect(verifySpentToken(key.secretKey, { epoch: 0, input: spent.input, mac: spent.mac.subarray(1) }, message, board)).toBe(false);
  });

  it('binds canonical post bytes: one encoding for {ciphertext, signature}', () => {
    expect(postBytes(message)).toEqual(postBytes({ signature: message.signature, ciphertext: message.ciphertext }));
  });
});
