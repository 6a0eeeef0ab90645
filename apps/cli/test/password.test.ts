import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// The terminal prompt, scripted: each call answers the next queued entry and records its message.
const prompts = vi.hoisted(() => ({ answers: [] as string[], asked: [] as string[] }));
vi.mock('@inquirer/password', () => ({
  default: (options: { message: string }): Promise<string> => {
    prompts.asked.push(options.message);
    const next = prompts.answers.shift();
    return next === undefined ? Promise.reject(new Error(`unexpected prompt: ${options.message}`)) : Promise.resolve(next);
  },
}));

const { readPassword } = await import('../src/password.js');
const { CliError, ExitCode } = await import('../src/errors.js');

const saved = { tty: process.stdin.isTTY, env: process.env.PURSUANCE_PASSWORD };
beforeEach(() => {
  prompts.answers.length = 0;
  prompts.asked.length = 0;
  delete process.env.PURSUANCE_PASSWORD;
  process.stdin.isTTY = true;
});
afterEach(() => {
  process.stdin.isTTY = saved.tty;
  if (saved.env === undefined) delete process.env.PURSUANCE_PASSWORD;
  else process.env.PURSUANCE_PASSWORD = saved.env;
});

const refusal = async (p: Promise<unknown>): Promise<{ message: string; exitCode: number }> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  return err as { message: string; exitCode: number };
};

describe('the profile password', () => {
  it('for a new profile, the terminal prompt asks twice and returns it when both agree', async () => {
    prompts.answers.push('a long passphrase', 'a long passphrase');
    expect(await readPassword({}, 'create')).toBe('a long passphrase');
    expect(prompts.asked).toEqual(['Choose a profile password:', 'Repeat the password:']);
  });

  it('refuses two different entries', async () => {
    prompts.answers.push('a long passphrase', 'a long passphrasf');
    const err = await refusal(readPassword({}, 'create'));
    expect(err.message).toBe('the passwords differ');
    expect(err.exitCode).toBe(ExitCode.usage);
  });

  it('refuses an empty or short new password at once, before asking to repeat it', async () => {
    for (const pw of ['', 'short']) {
      prompts.asked.length = 0;
      prompts.answers.push(pw);
      const err = await refusal(readPassword({}, 'create'));
      expect(err.message).toMatch(/at least 8 characters/);
      expect(err.exitCode).toBe(ExitCode.usage);
      expect(prompts.asked).toEqual(['Choose a profile password:']);
    }
  });

  it('refuses a short new password from the environment or a file too', async () => {
    process.env.PURSUANCE_PASSWORD = '';
    expect((await refusal(readPassword({}, 'create'))).message).toMatch(/empty/);
    const dir = await mkdtemp(join(tmpdir(), 'cli-password-'));
    try {
      await writeFile(join(dir, 'pw'), 'seven77\n');
      expect((await refusal(readPassword({ passwordFile: join(dir, 'pw') }, 'create'))).exitCode).toBe(ExitCode.usage);
      await writeFile(join(dir, 'pw'), 'eight888\n');
      expect(await readPassword({ passwordFile: join(dir, 'pw') }, 'create')).toBe('eight888');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(prompts.asked).toEqual([]);
  });

  it('unlocking asks once and does not judge the password (existing profiles keep theirs)', async () => {
    prompts.answers.push('old');
    expect(await readPassword({}, 'unlock')).toBe('old');
    expect(prompts.asked).toEqual(['Profile password:']);
  });
});
