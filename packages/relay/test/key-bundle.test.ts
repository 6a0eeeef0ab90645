import { describe, expect, it } from 'vitest';
import { Identity, fromBase64, toBase64 } from '@pursuance/crypto';
import {
  KeyBundleChangedError,
  KeyBundleInvalidError,
  MemoryKeyBundlePins,
  exportKeyBundle,
  generateVoprfKeyPair,
  importKeyBundle,
  signKeyBundle,
  trustKeyBundle,
} from '../src/index.js';
import { KEY_BUNDLE_PREFIX } from '../src/protocol-profile.js';

const board = Identity.generate();
const token = Identity.generate();
const key = generateVoprfKeyPair();
const exported = exportKeyBundle(signKeyBundle(board, token.onion, key.publicKey));

function editJson(text: string, edit: (json: { Keys: Record<string, unknown>; Signature: string }) => void): string {
  const json = JSON.parse(Buffer.from(fromBase64(text.slice(KEY_BUNDLE_PREFIX.length))).toString('utf8'));
  edit(json);
  return KEY_BUNDLE_PREFIX + toBase64(new TextEncoder().encode(JSON.stringify(json)));
}

describe('the signed key bundle', () => {
  it('exports as one "server:" string and imports back to the same keys', () => {
    expect(exported.startsWith('server:')).toBe(true);
    const bundle = importKeyBundle(exported);
    expect(bundle.boardOnion).toBe(board.onion);
    expect(bundle.tokenOnion).toBe(token.onion);
    expect(bundle.tokenPublicKey).toEqual(key.publicKey);
  });

  it('refuses a bundle with any key changed (signature no longer verifies)', () => {
    const tampered = [
      editJson(exported, (j) => (j.Keys.token_service_onion = Identity.generate().onion)),
      editJson(exported, (j) => (j.Keys.privacy_pass_public_key = toBase64(generateVoprfKeyPair().publicKey))),
      editJson(exported, (j) => {
        const sig = fromBase64(j.Signature);
        sig[0] = sig[0]! ^ 1;
        j.Signature = toBase64(sig);
      }),
    ];
    for (const text of tampered) expect(() => importKeyBundle(text)).toThrow(KeyBundleInvalidError);
  });

  it('refuses a bundle re-signed by someone other than the board onion', () => {
    const mallory = Identity.generate();
    const forged = signKeyBundle(mallory, token.onion, key.publicKey);
    const claimed = editJson(exportKeyBundle(forged), (j) => (j.Keys.bulletin_board_onion = board.onion));
    expect(() => importKeyBundle(claimed)).toThrow(KeyBundleInvalidError);
  });

  it('refuses missing keys, extra keys, a bad prefix, bad base64 and an invalid token key', () => {
    const cases = [
      editJson(exported, (j) => delete j.Keys.token_service_onion),
      editJson(exported, (j) => (j.Keys.extra = 'x')),
      editJson(exported, (j) => ((j as Record<string, unknown>).More = 1)),
      editJson(exported, (j) => (j.Keys.privacy_pass_public_key = toBase64(new Uint8Array(32)))),
      editJson(exported, (j) => (j.Keys.bulletin_board_onion = 'not-an-onion')),
      exported.replace('server:', 'tofubundle:'),
      `${exported}!`,
      'server:',
    ];
    for (const text of cases) expect(() => importKeyBundle(text), text.slice(0, 40)).toThrow(KeyBundleInvalidError);
  });

  it('pins on first use and refuses a changed bundle for the same board on re-import', async () => {
    const pins = new MemoryKeyBundlePins();
    await trustKeyBundle(exported, pins);
    await expect(trustKeyBundle(exported, pins)).resolves.toMatchObject({ boardOnion: board.onion });
    // Same board identity, validly signed, but a new token key: a different relay to its groups.
    const rotated = exportKeyBundle(signKeyBundle(board, token.onion, generateVoprfKeyPair().publicKey));
    expect(importKeyBundle(rotated).boardOnion).toBe(board.onion);
    await expect(trustKeyBundle(rotated, pins)).rejects.toBeInstanceOf(KeyBundleChangedError);
    const moved = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, key.publicKey));
    await expect(trustKeyBundle(moved, pins)).rejects.toBeInstanceOf(KeyBundleChangedError);
    // Another relay is unaffected.
    const other = exportKeyBundle(signKeyBundle(Identity.generate(), token.onion, key.publicKey));
    await expect(trustKeyBundle(other, pins)).resolves.toBeDefined();
  });
});
