import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The layer arrows and the key-bytes boundary are lint rules in eslint.config.js: these cases
 * lint source text as if it were written in a real file of each package, with the repository's
 * own config, so a rule that stops matching fails here rather than going quiet.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const used = 1;\n`, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer arrows (no-restricted-imports)', () => {
  const cases: Array<[file: string, imports: string, allowed: boolean]> = [
    ['packages/pursuance/src/log.ts', '@pursuance/crypto', true],
    ['packages/pursuance/src/log.ts', '@pursuance/cwtch', false],
    ['packages/pursuance/src/log.ts', '@pursuance/tapir', false],
    ['packages/pursuance/src/log.ts', '@pursuance/node', false],
    ['packages/crypto/src/ed25519.ts', '@pursuance/tapir', false],
    ['packages/tapir/src/auth.ts', '@pursuance/crypto', true],
    ['packages/tapir/src/auth.ts', '@pursuance/relay', false],
    ['packages/relay/src/tokens.ts', '@pursuance/tapir', true],
    ['packages/relay/src/tokens.ts', '@pursuance/cwtch', false],
    ['packages/cwtch/src/repair.ts', '@pursuance/relay', true],
    ['packages/cwtch/src/repair.ts', '@pursuance/pursuance', false],
    ['apps/relay/src/keystore.ts', '@pursuance/cwtch', false],
    ['apps/node/src/config.ts', '@pursuance/pursuance', true],
    ['apps/node/src/config.ts', '@pursuance/relay-daemon', false],
    ['packages/pursuance/src/log.ts', '@pursuance/codec', true],
    ['packages/codec/src/json.ts', '@pursuance/crypto', true],
    ['packages/codec/src/json.ts', '@pursuance/tapir', false],
    ['packages/crypto/src/ed25519.ts', '@pursuance/codec', false],
    ['packages/password/src/policy.ts', '@pursuance/crypto', false],
    ['apps/relay/src/keystore.ts', '@pursuance/password', true],
    ['packages/tapir/src/auth.ts', '@pursuance/password', false],
  ];
  for (const [file, name, allowed] of cases) {
    it(`${file}: import from ${name} is ${allowed ? 'allowed' : 'an error'}`, async () => {
      const messages = await restricted(file, `import * as m from '${name}';\nvoid m;`);
      expect(messages.length).toBe(allowed ? 0 : 1);
    });
  }

  it('a relative path into another workspace is an error (use its package name)', async () => {
    expect(await restricted('packages/cwtch/src/repair.ts', "import * as m from './repair-protocol.js';\nvoid m;")).toHaveLength(0);
    expect(await restricted('packages/cwtch/src/repair.ts', "import * as m from '../../relay/src/tokens.js';\nvoid m;")).toHaveLength(1);
    expect(await restricted('packages/cwtch/src/repair.ts', "import * as m from '../../../packages/relay/src/tokens.js';\nvoid m;")).toHaveLength(1);
  });
});

describe('key bytes stay in @pursuance/crypto', () => {
  it('curve, hash and box libraries only in crypto and the two stated exceptions', async () => {
    const noble = "import { ed25519 } from '@noble/curves/ed25519.js';\nvoid ed25519;";
    expect(await restricted('packages/crypto/src/ed25519.ts', noble)).toHaveLength(0);
    expect(await restricted('packages/relay/src/voprf.ts', noble)).toHaveLength(0);
    expect(await restricted('packages/tapir/src/transcript.ts', noble)).toHaveLength(0);
    expect(await restricted('packages/relay/src/tokens.ts', noble)).toHaveLength(1);
    expect(await restricted('packages/pursuance/src/keys.ts', "import nacl from 'tweetnacl';\nvoid nacl;")).toHaveLength(1);
    expect(await restricted('apps/node/src/config.ts', "import { sha256 } from '@noble/hashes/sha2.js';\nvoid sha256;")).toHaveLength(1);
  });

  it('node:crypto outside crypto: randomness only (byte compares through equalBytes; and the control-port HMAC)', async () => {
    expect(await restricted('apps/node/src/config.ts', "import { randomBytes } from 'node:crypto';\nvoid randomBytes;")).toHaveLength(0);
    expect(await restricted('apps/node/src/config.ts', "import { timingSafeEqual } from 'node:crypto';\nvoid timingSafeEqual;")).toHaveLength(1);
    expect(
      await restricted('packages/tapir/src/acn/tor-control-auth.ts', "import { timingSafeEqual } from 'node:crypto';\nvoid timingSafeEqual;"),
    ).toHaveLength(1);
    expect(await restricted('apps/node/src/config.ts', "import { createCipheriv } from 'node:crypto';\nvoid createCipheriv;")).toHaveLength(1);
    expect(await restricted('packages/pursuance/src/keys.ts', "import { sign } from 'node:crypto';\nvoid sign;")).toHaveLength(1);
    expect(await restricted('packages/tapir/src/acn/tor-control-auth.ts', "import { createHmac } from 'node:crypto';\nvoid createHmac;")).toHaveLength(0);
    expect(await restricted('packages/tapir/src/auth.ts', "import { createHmac } from 'node:crypto';\nvoid createHmac;")).toHaveLength(1);
    expect(await restricted('packages/crypto/src/nacl.ts', "import { createCipheriv } from 'node:crypto';\nvoid createCipheriv;")).toHaveLength(0);
  });
});
