import type { Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import type { BoardServer, RelayStore } from '@pursuance/relay';
import { ApplicationChain, AuthApp, LoopbackACN, TAPIR_PORT, TapirService } from '@pursuance/tapir';
import { RelayMetrics } from '../src/metrics.js';

/** Issue 15: the handshake difficulty a newcomer faces is visible, and rises with the load. */
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function value(text: string, metric: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{${labels}}`));
  if (line === undefined) throw new Error(`no ${metric}{${labels}} in the exposition`);
  return Number(line.split(' ').at(-1));
}

describe('proof-of-work metrics', () => {
  it('relay_handshake_pow_bits follows the connections in setup; the policy and renewal bits are exported', async () => {
    const registryDir = await mkdtemp(join(tmpdir(), 'relay-pow-metrics-'));
    const acn = new LoopbackACN({ registryDir });
    cleanups.push(
      () => rm(registryDir, { recursive: true, force: true }),
      () => acn.close(),
    );
    const service = (): TapirService => {
      const s = new TapirService(acn, Identity.generate(), { admission: { threshold: 2, bits: 9, maxBits: 11 }, handshakeTimeoutMs: 600_000 });
      cleanups.push(() => s.close());
      return s;
    };
    const board = service();
    const token = service();
    await board.listen(() => new ApplicationChain([new AuthApp()]));
    const store = { stats: () => Promise.resolve({ messages: 0, bytes: 0, spentTokens: 0, maxMessages: undefined }) } as unknown as RelayStore;
    const boardServer = { sessionCount: 0, limits: { renewalBits: 14 } } as unknown as BoardServer;
    const metrics = new RelayMetrics({ store, board: boardServer, services: { board, token }, maxStorageMb: 0, retentionDays: 0 });

    let text = await metrics.registry.metrics();
    expect(value(text, 'relay_handshake_pow_bits', 'service="board"')).toBe(0);
    expect(value(text, 'relay_handshake_pow_policy', 'setting="threshold"')).toBe(2);
    expect(value(text, 'relay_handshake_pow_policy', 'setting="bits"')).toBe(9);
    expect(value(text, 'relay_handshake_pow_policy', 'setting="max_bits"')).toBe(11);
    expect(text).toMatch(/^relay_renewal_pow_bits 14$/m);

    const sockets: Socket[] = [];
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    const hold = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const socket = await acn.open(board.onion, TAPIR_PORT);
        socket.on('error', () => undefined);
        socket.resume();
        sockets.push(socket);
      }
      const target = sockets.length;
      while (board.metrics.accepted < target) await new Promise((resolve) => setImmediate(resolve));
    };
    await hold(2);
    text = await metrics.registry.metrics();
    expect(value(text, 'relay_handshake_pow_bits', 'service="board"')).toBe(9);
    await hold(2);
    text = await metrics.registry.metrics();
    expect(value(text, 'relay_handshake_pow_bits', 'service="board"')).toBe(10);
    await hold(12);
    text = await metrics.registry.metrics();
    expect(value(text, 'relay_handshake_pow_bits', 'service="board"')).toBe(11); // capped
    expect(value(text, 'relay_handshake_pow_bits', 'service="token"')).toBe(0);
  });
});
