import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, fromBase64, toBase64 } from '@pursuance/crypto';
import {
  KeyBundleChangedError,
  KeyBundleInvalidError,
  MemoryKeyBundlePins,
  exportKeyBundle,
  importKeyBundle,
  legacyBundleOnion,
  signKeyBundle,
  trustKeyBundle,
} from '../src/index.js';
import { KEY_BUNDLE_PREFIX } from '../src/protocol-profile.js';
import { testTokenKeys } from '../src/testing/index.js';

const board = Identity.generate();
const token = Identity.generate();
const keys = testTokenKeys();
const exported = exportKeyBundle(signKeyBundle(board, token.onion, keys));

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
    expect(bundle.tokenEpochRoot).toEqual(keys.root);
    expect(bundle.tokenSchedule).toEqual(keys.schedule);
  });

  it('refuses a bundle with any key changed (signature no longer verifies)', () => {
    const tampered = [
      editJson(exported, (j) => (j.Keys.token_service_onion = Identity.generate().onion)),
      editJson(exported, (j) => (j.Keys.token_epoch_root = toBase64(testTokenKeys().root))),
      editJson(exported, (j) => (j.Keys.token_epoch_start = String(Number(j.Keys.token_epoch_start) + 1))),
      editJson(exported, (j) => (j.Keys.token_epoch_seconds = '1')),
      editJson(exported, (j) => (j.Keys.token_epoch_count = '1024')),
      editJson(exported, (j) => (j.Keys.token_grace_seconds = '0')),
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
    const forged = signKeyBundle(mallory, token.onion, keys);
    const claimed = editJson(exportKeyBundle(forged), (j) => (j.Keys.bulletin_board_onion = board.onion));
    expect(() => importKeyBundle(claimed)).toThrow(KeyBundleInvalidError);
  });

  it('refuses missing keys, extra keys, a bad prefix, bad base64 and a bad schedule', () => {
    const cases = [
      editJson(exported, (j) => delete j.Keys.token_service_onion),
      editJson(exported, (j) => delete j.Keys.token_epoch_root),
      editJson(exported, (j) => (j.Keys.extra = 'x')),
      editJson(exported, (j) => ((j as Record<string, unknown>).More = 1)),
      editJson(exported, (j) => (j.Keys.token_epoch_root = toBase64(new Uint8Array(31)))),
      editJson(exported, (j) => (j.Keys.token_epoch_count = '1000')),
      editJson(exported, (j) => (j.Keys.token_epoch_count = '0')),
      editJson(exported, (j) => (j.Keys.token_epoch_count = '131072')),
      editJson(exported, (j) => (j.Keys.token_epoch_seconds = '0')),
      editJson(exported, (j) => (j.Keys.token_epoch_start = '-5')),
      editJson(exported, (j) => (j.Keys.token_epoch_start = '1e9')),
      editJson(exported, (j) => (j.Keys.token_epoch_start = '007')),
      editJson(exported, (j) => (j.Keys.token_epoch_start = 7)),
      editJson(exported, (j) => (j.Keys.token_grace_seconds = '99999999999999999')),
      editJson(exported, (j) => Object.defineProperty(j.Keys, 'constructor', { value: 'x', enumerable: true })),
      editJson(exported, (j) => Object.defineProperty(j.Keys, '__proto__', { value: 'x', enumerable: true })),
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
    // Same board identity, validly signed, but new token keys: a different relay to its groups.
    const rotated = exportKeyBundle(signKeyBundle(board, token.onion, testTokenKeys()));
    expect(importKeyBundle(rotated).boardOnion).toBe(board.onion);
    await expect(trustKeyBundle(rotated, pins)).rejects.toBeInstanceOf(KeyBundleChangedError);
    const moved = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, keys));
    await expect(trustKeyBundle(moved, pins)).rejects.toBeInstanceOf(KeyBundleChangedError);
    for (const field of ['startSeconds', 'epochSeconds', 'count'] as const) {
      const schedule = { ...keys.schedule, [field]: keys.schedule[field] * 2 };
      const reschedule = exportKeyBundle(signKeyBundle(board, token.onion, { root: keys.root, schedule }));
      await expect(trustKeyBundle(reschedule, pins), field).rejects.toBeInstanceOf(KeyBundleChangedError);
    }
    const regraced = exportKeyBundle(signKeyBundle(board, token.onion, { root: keys.root, schedule: { ...keys.schedule, graceSeconds: 1 } }));
    await expect(trustKeyBundle(regraced, pins)).rejects.toBeInstanceOf(KeyBundleChangedError);
    await expect(trustKeyBundle(moved, pins)).rejects.toBeInstanceOf(KeyBundleChangedError);
    // Another relay is unaffected.
    const other = exportKeyBundle(signKeyBundle(Identity.generate(), token.onion, keys));
    await expect(trustKeyBundle(other, pins)).resolves.toBeDefined();
  });

  it('refuses every other spelling of a signed number (the signature covers the value, the text must be canonical)', () => {
    for (const text of [
      editJson(exported, (j) => (j.Keys.token_epoch_start = `0${String(j.Keys.token_epoch_start)}`)),
      editJson(exported, (j) => (j.Keys.token_epoch_start = `${String(j.Keys.token_epoch_start)} `)),
      editJson(exported, (j) => (j.Keys.token_epoch_count = ' 16')),
      editJson(exported, (j) => (j.Keys.token_epoch_seconds = `${String(j.Keys.token_epoch_seconds)}.0`)),
    ]) {
      expect(() => importKeyBundle(text)).toThrow(KeyBundleInvalidError);
    }
  });

  it('will not sign what it would not import', () => {
    expect(() => signKeyBundle(board, board.onion, keys)).toThrow(/distinct onions/);
    expect(() => signKeyBundle(board, token.onion, { root: keys.root.subarray(1), schedule: keys.schedule })).toThrow(/32 bytes/);
    expect(() => signKeyBundle(board, token.onion, { root: keys.root, schedule: { ...keys.schedule, count: 3 } })).toThrow(/token schedule: epoch count/);
    expect(() => signKeyBundle(board, 'nope' as typeof token.onion, keys)).toThrow(/onion names/);
  });

  it('says why a bundle is refused: a legacy bundle is named as such, other breakage is not', () => {
    const broken = [editJson(exported, (j) => ((j as Record<string, unknown>).Keys = null)), editJson(exported, (j) => delete j.Keys.token_epoch_root)];
    for (const text of broken) expect(() => importKeyBundle(text)).toThrow(/^key bundle: /);
    const padded = `${KEY_BUNDLE_PREFIX}${'A'.repeat(2100)}`;
    expect(() => importKeyBundle(padded)).toThrow(/starts with/);
  });

  it('names a bundle from a relay without epochs as such, and tells whose it is', () => {
    const legacy = editJson(exported, (j) => {
      for (const k of Object.keys(j.Keys)) if (k.startsWith('token_epoch') || k === 'token_grace_seconds') delete j.Keys[k];
      j.Keys.privacy_pass_public_key = toBase64(new Uint8Array(32).fill(9));
    });
    expect(() => importKeyBundle(legacy)).toThrow(/predates token key epochs/);
    expect(legacyBundleOnion(legacy)).toBe(board.onion);
    expect(legacyBundleOnion(exported)).toBeUndefined();
    expect(legacyBundleOnion('server:!!')).toBeUndefined();
    expect(legacyBundleOnion(editJson(legacy, (j) => (j.Keys.bulletin_board_onion = 'nope')))).toBeUndefined();
    expect(legacyBundleOnion(legacy.replace(KEY_BUNDLE_PREFIX, 'tofu:'))).toBeUndefined();
    // Over the length limit (JSON padded with spaces), it is not even read.
    const json = Buffer.from(fromBase64(legacy.slice(KEY_BUNDLE_PREFIX.length))).toString('utf8');
    const long = KEY_BUNDLE_PREFIX + toBase64(new TextEncoder().encode(json.replace('{', `{${' '.repeat(1600)}`)));
    expect(long.length).toBeGreaterThan(2048);
    expect(legacyBundleOnion(long)).toBeUndefined();
  });

  it('parses any string to a bundle or a KeyBundleInvalidError, never anything else (fuzz)', () => {
    const json = Buffer.from(fromBase64(exported.slice(KEY_BUNDLE_PREFIX.length))).toString('utf8');
    const mutate = fc.tuple(fc.nat(json.length), fc.nat(json.length), fc.string({ maxLength: 12 })).map(([a, b, ins]) => {
      const [from, to] = a <= b ? [a, b] : [b, a];
      return KEY_BUNDLE_PREFIX + toBase64(new TextEncoder().encode(json.slice(0, from) + ins + json.slice(to)));
    });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), mutate), (text) => {
        try {
          importKeyBundle(text);
        } catch (err) {
          expect(err).toBeInstanceOf(KeyBundleInvalidError);
        }
        expect(() => legacyBundleOnion(text)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  describe('the bucket length (bucketed fetch)', () => {
    const bucketed = exportKeyBundle(signKeyBundle(board, token.onion, { root: keys.root, schedule: keys.schedule, bucketSeconds: 3600 }));

    it('is signed into the bundle when present; a bundle from before it imports as one without', () => {
      expect(importKeyBundle(bucketed).bucketSeconds).toBe(3600);
      expect(importKeyBundle(exported).bucketSeconds).toBeUndefined();
      // Stripped, added or changed, the signature no longer verifies: no one downgrades a relay's members to "since".
      for (const text of [
        editJson(bucketed, (j) => delete j.Keys.bucket_seconds),
        editJson(bucketed, (j) => (j.Keys.bucket_seconds = '7200')),
        editJson(exported, (j) => (j.Keys.bucket_seconds = '3600')),
      ]) {
        expect(() => importKeyBundle(text)).toThrow(KeyBundleInvalidError);
      }
    });

    it('is refused out of range, non-canonical or not a whole number, and never signed so', () => {
      for (const value of ['59', '604801', '0', '-3600', '3600.0', '03600', '3.6e3', '', ' 3600']) {
        expect(() => importKeyBundle(editJson(bucketed, (j) => (j.Keys.bucket_seconds = value)))).toThrow(KeyBundleInvalidError);
      }
      for (const bucketSeconds of [59, 604_801, 1.5, Number.NaN]) {
        expect(() => signKeyBundle(board, token.onion, { root: keys.root, schedule: keys.schedule, bucketSeconds })).toThrow(KeyBundleInvalidError);
      }
      for (const bucketSeconds of [60, 604_800]) {
        expect(
          importKeyBundle(exportKeyBundle(signKeyBundle(board, token.onion, { root: keys.root, schedule: keys.schedule, bucketSeconds }))).bucketSeconds,
        ).toBe(bucketSeconds);
      }
    });

    it("a pin from before buckets moves on to the same board's bundle with them; the older one is still accepted, a changed length is not", async () => {
      const pins = new MemoryKeyBundlePins();
      await trustKeyBundle(exported, pins);
      expect((await pins.get(board.onion))?.bucketSeconds).toBeUndefined();
      await trustKeyBundle(bucketed, pins);
      expect((await pins.get(board.onion))?.bucketSeconds).toBe(3600);
      // An invite still carrying the older bundle: accepted, the pin stays upgraded.
      expect((await trustKeyBundle(exported, pins)).bucketSeconds).toBeUndefined();
      expect((await pins.get(board.onion))?.bucketSeconds).toBe(3600);
      const other = exportKeyBundle(signKeyBundle(board, token.onion, { root: keys.root, schedule: keys.schedule, bucketSeconds: 60 }));
      await expect(trustKeyBundle(other, pins)).rejects.toBeInstanceOf(KeyBundleChangedError);
      // Buckets added with other token keys: a different relay to its groups, refused.
      const rekeyed = exportKeyBundle(
        signKeyBundle(board, token.onion, {
          ...(() => {
            const k = testTokenKeys();
            return { root: k.root, schedule: k.schedule };
          })(),
          bucketSeconds: 3600,
        }),
      );
      const fresh = new MemoryKeyBundlePins();
      await trustKeyBundle(exported, fresh);
      await expect(trustKeyBundle(rekeyed, fresh)).rejects.toBeInstanceOf(KeyBundleChangedError);
    });
  });
});
