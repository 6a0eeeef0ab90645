import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '@pursuance/crypto';
import { KeyBundleInvalidError, MemoryKeyBundlePins, RelayClient, importKeyBundle, trustKeyBundle, type EncryptedGroupMessage } from '@pursuance/relay';
import { LoopbackACN } from '@pursuance/tapir';
import { metricValue, runRelay, startRelayProcess, type RelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { randomMessage } from '../../packages/relay/test/support/fixtures.js';

let dir: string;
let registryDir: string;
let acn: LoopbackACN;
const running: RelayProcess[] = [];
const clients: RelayClient[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-sys-'));
  registryDir = join(dir, 'registry');
  acn = new LoopbackACN({ registryDir });
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await Promise.allSettled(running.map((r) => r.stop('SIGKILL')));
  await acn.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RelayProcess> {
  const relay = await startRelayProcess({ dataDir: join(dir, name), registryDir, args, env });
  running.push(relay);
  return relay;
}

async function client(bundle: string, options: { batchSize?: number } = {}): Promise<RelayClient> {
  // No token lookahead (low-water mark 0): tokens are bought only when the wallet is empty, so the
  // relay's issuance metrics below count exactly the batches these posts needed.
  const c = new RelayClient({ acn, bundle: await trustKeyBundle(bundle, new MemoryKeyBundlePins()), batchSize: options.batchSize ?? 10, lowWaterMark: 0 });
  clients.push(c);
  return c;
}

const hex = (m: EncryptedGroupMessage) => toHex(m.signature);

describe('pursuance-relay as a separate process', () => {
  it('documents itself and refuses bad usage with exit code 2', async () => {
    const help = await runRelay(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--pow-difficulty');
    expect(help.stdout).toContain('PURSUANCE_RELAY_PASSWORD');
    expect(help.stdout).toContain('Exit codes');
    expect((await runRelay(['--no-such-flag'])).code).toBe(2);
    expect((await runRelay(['--pow-difficulty', 'lots'])).code).toBe(2);
    expect((await runRelay(['--pow-difficulty', '99'])).code).toBe(2);
    const badConfig = join(dir, 'bad.json');
    await writeFile(badConfig, JSON.stringify({ powDifficulty: 4, surprise: true }));
    const bad = await runRelay(['--config', badConfig, '--data-dir', join(dir, 'never')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('config file');
    const noPassword = await runRelay(['--data-dir', join(dir, 'never'), '--loopback-registry', registryDir], { PURSUANCE_RELAY_PASSWORD: '' });
    expect(noPassword.code).toBe(2);
    const short = await runRelay(['--data-dir', join(dir, 'never'), '--loopback-registry', registryDir, '--no-metrics'], { PURSUANCE_RELAY_PASSWORD: 'short' });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('at least 8');
  });

  it('serves post, replay all, replay since and live push to clients in another process, with metrics', async () => {
    const relay = await start('main', ['--log-level', 'debug']);
    expect(importKeyBundle(relay.bundle)).toMatchObject({ boardOnion: relay.boardOnion, tokenOnion: relay.tokenOnion });
    const alice = await (await client(relay.bundle)).openSession();
    const bob = await (await client(relay.bundle)).openSession();
    const sent = [randomMessage(), randomMessage(), randomMessage()];
    for (const m of sent) await alice.post(m);
    expect((await bob.replay()).map(hex)).toEqual(sent.map(hex));
    expect((await bob.replay({ since: sent[1]!.signature })).map(hex)).toEqual(sent.slice(1).map(hex));
    const live = new Promise<EncryptedGroupMessage>((resolve) => bob.once('message', resolve));
    const fresh = randomMessage();
    await alice.post(fresh);
    expect(hex(await live)).toBe(hex(fresh));

    const metrics = await relay.metrics();
    expect(metricValue(metrics, 'relay_posts_total', '{outcome="stored"}')).toBe(4);
    expect(metricValue(metrics, 'relay_tokens_issued_total')).toBe(10);
    expect(metricValue(metrics, 'relay_stored_messages')).toBe(4);
    // Bounded by default: 1024 MB × 250 messages, 30 days.
    expect(metricValue(metrics, 'relay_storage_cap_messages')).toBe(256_000);
    expect(metricValue(metrics, 'relay_storage_cap_megabytes')).toBe(1024);
    expect(metricValue(metrics, 'relay_retention_days')).toBe(30);
    expect(metricValue(metrics, 'relay_stored_bytes')).toBe(4 * (4096 + 64));
    expect(metricValue(metrics, 'relay_replays_total')).toBe(2);
    expect(metricValue(metrics, 'relay_board_sessions')).toBe(2);
    expect(metrics).toContain('relay_process_resident_memory_bytes');
    // Logs are JSON lines.
    for (const line of relay.stderr().trim().split('\n')) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(relay.stderr()).toContain('"event":"post.acknowledged"');
  });

  it('stops gracefully on SIGTERM (exit 0, unpublished), restarts with the same keys and data', async () => {
    const relay = running.find((r) => r.stdout().includes('ready'))!;
    const bundle = relay.bundle;
    expect(await relay.stop('SIGTERM')).toBe(0);
    await expect(acn.open(relay.boardOnion, 9878)).rejects.toMatchObject({ code: 'ACN_UNREACHABLE' });
    // Keys are sealed at rest: no seed or secret in the clear, file readable by the owner only.
    const keysFile = await readFile(join(dir, 'main', 'relay-keys.json'), 'utf8');
    expect(JSON.parse(keysFile)).toMatchObject({ v: 2, boardOnion: relay.boardOnion, tokenSchedule: { count: 1024 }, sealed: { kdf: 'scrypt' } });
    expect((await stat(join(dir, 'main', 'relay-keys.json'))).mode & 0o077).toBe(0);
    expect((await stat(join(dir, 'main'))).mode & 0o077).toBe(0);

    const wrong = await runRelay(['--data-dir', join(dir, 'main'), '--loopback-registry', registryDir, '--no-metrics'], {
      PURSUANCE_RELAY_PASSWORD: 'not the password',
    });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('wrong password');

    const again = await start('main');
    expect(again.bundle).toBe(bundle);
    const session = await (await client(again.bundle)).openSession();
    expect((await session.replay()).length).toBe(4);
    // A second daemon on the same data dir is refused.
    const twin = await runRelay(['--data-dir', join(dir, 'main'), '--loopback-registry', registryDir, '--no-metrics'], {
      PURSUANCE_RELAY_PASSWORD: 'relay password 1',
    });
    expect(twin.code).toBe(6);
    expect(await again.stop('SIGINT')).toBe(0);
  });

  it('applies the config file under flags, caps storage and shows pruning in metrics', async () => {
    const config = join(dir, 'capped.json');
    // The file asks for a huge proof of work; the flag (set by the harness to 2 bits) wins.
    await writeFile(config, JSON.stringify({ maxStorageMb: 1, powDifficulty: 30, logLevel: 'warn' }));
    const relay = await start('capped', ['--config', config]);
    const c = await client(relay.bundle, { batchSize: 100 });
    const session = await c.openSession();
    await Promise.all(Array.from({ length: 260 }, () => session.post(randomMessage())));
    const metrics = await relay.metrics();
    expect(metricValue(metrics, 'relay_storage_cap_messages')).toBe(250);
    expect(metricValue(metrics, 'relay_storage_cap_megabytes')).toBe(1);
    const pruned = metricValue(metrics, 'relay_pruned_messages_total', '{reason="cap"}')!;
    const stored = metricValue(metrics, 'relay_stored_messages')!;
    expect(pruned).toBeGreaterThan(0);
    expect(stored).toBeLessThanOrEqual(250);
    expect(pruned + stored).toBe(260);
    expect((await session.replay()).length).toBe(stored);
    // logLevel "warn" from the file: no info lines.
    expect(relay.stderr()).not.toContain('"level":"info"');
    expect(await relay.stop()).toBe(0);
  });

  it('a client refuses a tampered bundle string from the daemon', () => {
    const text = running[0]!.bundle;
    const i = text.length - 10;
    const tampered = text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
    expect(() => importKeyBundle(tampered)).toThrow(KeyBundleInvalidError);
  });
});
