import { describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, toBase64 } from '@pursuance/crypto';
import { KeyBundleChangedError, KeyBundleInvalidError, exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { MemoryProfileStore } from '../src/index.js';
import { COLLECTIONS, toCanonical } from '../src/records.js';
import { RelayBook } from '../src/relay-book.js';
import { ProfileVault } from '../src/vault.js';

/** A bundle as a relay from before token epochs exported it: one token key, signed by the board. */
function legacyBundle(board: Identity): string {
  const json = JSON.stringify({
    Keys: {
      bulletin_board_onion: board.onion,
      privacy_pass_public_key: toBase64(new Uint8Array(32).fill(7)),
      token_service_onion: Identity.generate().onion,
    },
    Signature: toBase64(board.sign(new Uint8Array(8))),
  });
  return `server:${toBase64(new TextEncoder().encode(json))}`;
}

describe('RelayBook pins', () => {
  it('replaces a pin from before token epochs once, with the same board’s new bundle, and pins that one', async () => {
    const store = new MemoryProfileStore();
    const { vault } = await ProfileVault.create(store, 'a long password', TEST_SCRYPT_PARAMS);
    const board = Identity.generate();
    const legacy = legacyBundle(board);
    await vault.write([vault.put(COLLECTIONS.relays, board.onion, toCanonical({ boardOnion: board.onion, bundle: legacy }))]);
    const book = new RelayBook(vault);
    await book.load();
    expect(book.get(board.onion)?.bundle).toBe(legacy);

    const upgraded = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    await expect(book.trust(upgraded)).resolves.toMatchObject({ boardOnion: board.onion });
    expect(book.get(board.onion)?.bundle).toBe(upgraded);
    // From now on the new pin holds: another bundle for this board is a changed relay.
    const other = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    await expect(book.trust(other)).rejects.toBeInstanceOf(KeyBundleChangedError);
    // And it was written: a reopened book has it.
    const reopened = new RelayBook(vault);
    await reopened.load();
    expect(reopened.get(board.onion)?.bundle).toBe(upgraded);
    // The legacy bundle itself is refused with its own reason.
    await expect(reopened.trust(legacy)).rejects.toThrow(KeyBundleInvalidError);
    await expect(reopened.trust(legacy)).rejects.toThrow(/predates token key epochs/);
  });

  it('a legacy pin of another board does not open this board’s pin', async () => {
    const store = new MemoryProfileStore();
    const { vault } = await ProfileVault.create(store, 'a long password', TEST_SCRYPT_PARAMS);
    const board = Identity.generate();
    const book = new RelayBook(vault);
    const first = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    await book.trust(first);
    const stranger = Identity.generate();
    await vault.write([vault.put(COLLECTIONS.relays, stranger.onion, toCanonical({ boardOnion: stranger.onion, bundle: legacyBundle(stranger) }))]);
    const changed = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    await expect(book.trust(changed)).rejects.toBeInstanceOf(KeyBundleChangedError);
  });

  it('moves a pin on to the same board’s bundle with a bucket length; still takes the older bundle from invites, keeping the new pin', async () => {
    const { vault } = await ProfileVault.create(new MemoryProfileStore(), 'a long password', TEST_SCRYPT_PARAMS);
    const board = Identity.generate();
    const token = Identity.generate();
    const keys = testTokenKeys();
    const sign = (bucketSeconds?: number): string =>
      exportKeyBundle(
        signKeyBundle(board, token.onion, { root: keys.root, schedule: keys.schedule, ...(bucketSeconds === undefined ? {} : { bucketSeconds }) }),
      );
    const book = new RelayBook(vault);
    await book.load();
    await book.trust(sign());
    await book.trust(sign(3600));
    expect(book.get(board.onion)?.bundle).toBe(sign(3600));
    await expect(book.trust(sign())).resolves.toMatchObject({ boardOnion: board.onion });
    expect(book.get(board.onion)?.bundle).toBe(sign(3600));
    await expect(book.trust(sign(60))).rejects.toBeInstanceOf(KeyBundleChangedError);
    const reopened = new RelayBook(vault);
    await reopened.load();
    expect(reopened.get(board.onion)?.bundle).toBe(sign(3600));
  });
});
