import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// The terminal prompt, scripted: each call records its message and takes queued answers until
// one passes the prompt's validate (as inquirer re-asks in place), recording each refusal shown.
const CTRL_C = Symbol('Ctrl-C');
const prompts = vi.hoisted(() => ({ answers: [] as (string | symbol)[], asked: [] as string[], refused: [] as string[] }));
vi.mock('@inquirer/password', () => ({
  default: async (options: { message: string; validate?: (value: string) => boolean | string | Promise<boolean | string> }): Promise<string> => {
    prompts.asked.push(options.message);
    for (;;) {
      const next = prompts.answers.shift();
      if (next === undefined) throw new Error(`unexpected prompt: ${options.message}`);
      if (typeof next === 'symbol') throw Object.assign(new Error('User force closed the prompt with SIGINT'), { name: 'ExitPromptError' });
      const verdict = options.validate ? await options.validate(next) : true;
      if (verdict === true) return next;
      prompts.refused.push(String(verdict));
    }
  },
}));

const { readPassword } = await import('../src/password.js');
const { CliError, ExitCode } = await import('../src/errors.js');

const saved = { tty: process.stdin.isTTY, env: process.env.PURSUANCE_PASSWORD };
const CHOOSE = 'Choose a profile password (at least 8 characters):';
let stderr: string[];
beforeEach(() => {
  prompts.answers.length = 0;
  prompts.asked.length = 0;
  prompts.refused.length = 0;
  stderr = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
  delete process.env.PURSUANCE_PASSWORD;
  process.stdin.isTTY = true;
});
afterEach(() => {
  vi.restoreAllMocks();
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
    expect(prompts.asked).toEqual([CHOOSE, 'Repeat the password:']);
    expect(prompts.refused).toEqual([]);
  });

  it('refuses an empty or short new password on the spot, saying why, and asks again before the repeat', async () => {
    prompts.answers.push('', '   ', 'short', 'a long passphrase', 'a long passphrase');
    expect(await readPassword({}, 'create')).toBe('a long passphrase');
    expect(prompts.asked).toEqual([CHOOSE, 'Repeat the password:']);
    expect(prompts.refused).toHaveLength(3);
    expect(prompts.refused[0]).toMatch(/empty.*at least 8 characters/);
    expect(prompts.refused[1]).toMatch(/empty/);
    expect(prompts.refused[2]).toBe('choose a profile password of at least 8 characters');
  });

  it('starts over when the repeat differs, and gives up after three tries', async () => {
    prompts.answers.push('a long passphrase', 'a long passphrasf', 'another passphrase', 'another passphrase');
    expect(await readPassword({}, 'create')).toBe('another passphrase');
    expect(prompts.asked).toEqual([CHOOSE, 'Repeat the password:', CHOOSE, 'Repeat the password:']);
    expect(stderr.join('')).toContain('The two passwords differ');

    prompts.asked.length = 0;
    for (let i = 0; i < 3; i++) prompts.answers.push('a long passphrase', `a long passphrase ${i}`);
    const err = await refusal(readPassword({}, 'create'));
    expect(err.message).toBe('the passwords differ');
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(prompts.asked).toHaveLength(6);
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

  it('unlocking asks once, takes no empty answer, and does not judge the password (existing profiles keep theirs)', async () => {
    prompts.answers.push('', 'old');
    expect(await readPassword({}, 'unlock')).toBe('old');
    expect(prompts.asked).toEqual(['Profile password:']);
    expect(prompts.refused).toEqual(['the password is empty; type it, or press Ctrl-C to stop']);
  });

  it('refuses an empty password for an existing profile from the environment', async () => {
    process.env.PURSUANCE_PASSWORD = '';
    expect((await refusal(readPassword({}, 'unlock'))).exitCode).toBe(ExitCode.usage);
  });

  it('Ctrl-C at the prompt stops with exit code 130 and one plain line', async () => {
    for (const purpose of ['create', 'unlock'] as const) {
      prompts.answers.push(CTRL_C);
      const err = await refusal(readPassword({}, purpose));
      expect(err.message).toBe('stopped at the password prompt');
      expect(err.exitCode).toBe(130);
    }
  });
});
