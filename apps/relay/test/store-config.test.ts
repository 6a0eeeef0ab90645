import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readConfigFile, relayProgram } from '../src/config.js';
import { DaemonError, ExitCode } from '../src/errors.js';
import { StoreUrlError, parseStoreChoice, redactSecrets, redactStoreUrl } from '../src/store/store-url.js';
import { configFrom } from './support/config-from.js';

const SECRET = 'Hunter2-s3cret';
const PG = `postgres://relay:${SECRET}@db.example:5433/relay`;

describe('--store', () => {
  it('defaults to SQLite in the data dir, and takes postgres:// from the file, env or flag, flags first', () => {
    expect(configFrom([]).store).toEqual({ kind: 'sqlite' });
    expect(configFrom([], {}, { store: PG }).store).toEqual({ kind: 'postgres', url: PG });
    const fromEnv = 'postgresql://relay@10.0.0.5/relay_env?sslmode=require';
    expect(configFrom([], { PURSUANCE_RELAY_STORE: fromEnv }, { store: PG }).store).toEqual({ kind: 'postgres', url: fromEnv });
    const fromFlag = 'postgres://relay@127.0.0.1:5432/relay_flag';
    expect(configFrom(['--store', fromFlag], { PURSUANCE_RELAY_STORE: fromEnv }).store).toEqual({ kind: 'postgres', url: fromFlag });
    // "sqlite" names the default explicitly, over a file that says otherwise.
    expect(configFrom(['--store', 'sqlite'], {}, { store: PG }).store).toEqual({ kind: 'sqlite' });
    // A unix-socket directory instead of a host.
    expect(configFrom(['--store', 'postgres:///relay?host=/var/run/postgresql']).store).toMatchObject({ kind: 'postgres' });
    expect(relayProgram().helpInformation()).toContain('--store <url>');
  });

  it('refuses a bad value from the flag, env or file with the config error (exit 2), never repeating the password', async () => {
    const bad = [
      `mysql://relay:${SECRET}@db.example/relay`,
      `postgres://relay:${SECRET}@/relay`,
      `postgres://relay:${SECRET}@db.example`,
      `postgres://relay:${SECRET}@db.example/`,
      `postgres://relay:${SECRET}@db.example/a/b`,
      `postgres://relay:${SECRET}@db.example:99999/relay`,
      `postgres://relay:${SECRET}@db.example/relay#x`,
      `relay:${SECRET}@db.example/relay`,
      `${SECRET}`,
      '',
    ];
    for (const value of bad) {
      for (const attempt of [() => configFrom(['--store', value]), () => configFrom([], { PURSUANCE_RELAY_STORE: value })]) {
        let error: unknown;
        try {
          attempt();
        } catch (err) {
          error = err;
        }
        expect(error, value).toBeInstanceOf(DaemonError);
        expect((error as DaemonError).exitCode, value).toBe(ExitCode.usage);
        expect((error as DaemonError).message, value).toMatch(/^--store/);
        expect((error as DaemonError).message, value).not.toContain(SECRET);
      }
    }
    const dir = await mkdtemp(join(tmpdir(), 'relay-store-config-'));
    try {
      const path = join(dir, 'c.json');
      await writeFile(path, JSON.stringify({ store: `mysql://relay:${SECRET}@db.example/relay` }));
      const file = await readConfigFile(path);
      expect(() => configFrom([], {}, file)).toThrow(DaemonError);
      for (const value of [5, '', null]) {
        await writeFile(path, JSON.stringify({ store: value }));
        const err = await readConfigFile(path).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DaemonError);
        expect((err as DaemonError).exitCode).toBe(ExitCode.usage);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('redacts the password from the URL it shows and from any driver message', () => {
    expect(redactStoreUrl(PG)).toBe('postgres://relay:***@db.example:5433/relay');
    expect(redactStoreUrl('postgres://relay@db.example/relay?password=abc&sslmode=require')).toBe(
      'postgres://relay@db.example/relay?password=***&sslmode=require',
    );
    expect(redactStoreUrl('postgres://relay@db.example/relay')).toBe('postgres://relay@db.example/relay');
    const choice = parseStoreChoice('postgres://relay:p%40ss%2Fw0rd@db.example/relay');
    expect(redactSecrets('auth failed for p@ss/w0rd (p%40ss%2Fw0rd) at postgres://relay:p%40ss%2Fw0rd@db.example/relay', choice)).toBe(
      'auth failed for *** (***) at postgres://relay:***@db.example/relay',
    );
    expect(redactSecrets('anything', { kind: 'sqlite' })).toBe('anything');
  });

  it('never lets a password through, whatever it is and whether the URL is accepted or refused (property)', () => {
    const password = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).map((s) => `Pw!${s}`);
    const shape = fc.constantFrom(
      'postgres://u:{}@h.example:5432/db',
      'postgres://u:{}@h.example/db/extra',
      'ftp://u:{}@h.example/db',
      'postgres://u:{}@/db',
      'u:{}@h.example/db',
    );
    fc.assert(
      fc.property(password, shape, fc.boolean(), (secret, template, encode) => {
        const inUrl = encode ? encodeURIComponent(secret) : secret;
        const value = template.replace('{}', inUrl);
        let shown: string;
        try {
          const choice = parseStoreChoice(value);
          shown = redactStoreUrl(value) + redactSecrets(`failed: ${secret} ${inUrl} ${value}`, choice);
        } catch (err) {
          if (!(err instanceof StoreUrlError)) throw err;
          shown = err.message;
        }
        expect(shown).not.toContain(secret);
        expect(shown).not.toContain(inUrl);
      }),
      { numRuns: 300 },
    );
  });
});
