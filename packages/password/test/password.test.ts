import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MIN_PASSWORD_LENGTH,
  NoPasswordError,
  PasswordFileError,
  WeakPasswordError,
  checkNewPassword,
  isPasswordError,
  readOptionalPassword,
  readPassword,
} from '../src/index.js';

describe('checkNewPassword', () => {
  it('refuses empty and all-blank passwords as empty, and counts characters, not bytes', () => {
    for (const blank of ['', ' ', '\t\n        ']) {
      expect(() => checkNewPassword(blank)).toThrow(WeakPasswordError);
      try {
        checkNewPassword(blank, 'relay');
      } catch (err) {
        expect((err as WeakPasswordError).empty).toBe(true);
        expect((err as WeakPasswordError).code).toBe('WEAK_PASSWORD');
        expect((err as Error).message).toMatch(/relay password is empty/);
      }
    }
    // Seven emoji are 28 UTF-8 bytes and 14 UTF-16 units, but seven characters: too short.
    expect(() => checkNewPassword('🔑'.repeat(MIN_PASSWORD_LENGTH - 1))).toThrow(WeakPasswordError);
    expect(() => checkNewPassword('🔑'.repeat(MIN_PASSWORD_LENGTH))).not.toThrow();
  });

  it('accepts exactly the non-blank passwords of at least the minimum length (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 16 }), (password) => {
        const ok = password.trim().length > 0 && [...password].length >= MIN_PASSWORD_LENGTH;
        let threw = false;
        try {
          checkNewPassword(password);
        } catch (err) {
          expect(err).toBeInstanceOf(WeakPasswordError);
          threw = true;
        }
        expect(threw).toBe(!ok);
      }),
    );
  });
});

describe('readPassword', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'password-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prefers the file (one trailing newline dropped) over the environment', async () => {
    await writeFile(join(dir, 'pw'), 'from the file\r\n');
    const env = { APP_PASSWORD: 'from the env' };
    expect(await readPassword({ file: join(dir, 'pw'), envName: 'APP_PASSWORD', env, interactive: false }, 'unlock')).toBe('from the file');
    expect(await readPassword({ envName: 'APP_PASSWORD', env, interactive: false }, 'unlock')).toBe('from the env');
  });

  it('keeps a password that merely ends in spaces or in a second newline', async () => {
    await writeFile(join(dir, 'pw2'), 'ends in two newlines\n\n');
    expect(await readPassword({ file: join(dir, 'pw2'), envName: 'X', env: {}, interactive: false }, 'unlock')).toBe('ends in two newlines\n');
  });

  it('names the sources it tried, never a value, when none gives a password (an empty one included)', async () => {
    for (const env of [{}, { APP_PASSWORD: '' }]) {
      const err = await readPassword({ envName: 'APP_PASSWORD', env, interactive: false }, 'unlock').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NoPasswordError);
      expect((err as Error).message).toBe('no password: use --password-file or APP_PASSWORD');
      expect(isPasswordError(err)).toBe(true);
    }
  });

  it('reports an unreadable file by path with its cause, as a typed error', async () => {
    const err = await readPassword({ file: join(dir, 'missing'), envName: 'X', env: {}, interactive: false }, 'unlock').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PasswordFileError);
    expect((err as PasswordFileError).code).toBe('PASSWORD_FILE_UNREADABLE');
    expect((err as Error).cause).toBeDefined();
  });

  it('refuses a weak new password from any source, and lets an existing store open with one', async () => {
    const sources = { envName: 'APP_PASSWORD', env: { APP_PASSWORD: 'short' }, interactive: false } as const;
    await expect(readPassword(sources, 'create')).rejects.toBeInstanceOf(WeakPasswordError);
    expect(await readPassword(sources, 'unlock')).toBe('short');
  });

  it('reads an optional secret only when one is given, naming its own flag when it is unusable', async () => {
    const sources = { envName: 'CTL_PASSWORD', fileFlag: '--tor-control-password-file' };
    expect(await readOptionalPassword({ ...sources, env: {} })).toBeUndefined();
    expect(await readOptionalPassword({ ...sources, env: { CTL_PASSWORD: 'from env' } })).toBe('from env');
    // Set but empty is a mistake, not "no password": refused, and the message names the right flag.
    const empty = await readOptionalPassword({ ...sources, env: { CTL_PASSWORD: '' } }).catch((e: unknown) => e);
    expect(empty).toBeInstanceOf(NoPasswordError);
    expect((empty as Error).message).toBe('no password: use --tor-control-password-file or CTL_PASSWORD');
    await expect(readOptionalPassword({ ...sources, file: join(dir, 'absent'), env: {} })).rejects.toBeInstanceOf(PasswordFileError);
  });
});
