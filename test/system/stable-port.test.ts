/**
 * A data dir keeps its dashboard port (issue 14: "ports change every run so bookmarks break"):
 * chosen on the first start, reused on the next; when someone else holds it, the node serves
 * on another port for that run, says so, and goes back to its own port once it is free.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../../apps/node/src/index.js';
import { http } from '../../apps/node/test/support/http.js';
import { runCli, spawnCli } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stable-port-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Start `pursuance node start --port 0` on the data dir, wait for its address, check it serves, stop it. */
async function startAndStop(dataDir: string): Promise<{ port: number; stderr: string }> {
  const proc = spawnCli(['node', 'start', '--data-dir', dataDir, '--port', '0', '--loopback-registry', join(dir, 'registry')], {
    PURSUANCE_PASSWORD: 'stable port password',
  });
  try {
    const [, port, token] = await proc.waitForLine(/^sign-in http:\/\/127\.0\.0\.1:(\d+)\/#token=([A-Za-z0-9_-]{43})$/m);
    expect((await http(Number(port), 'GET', '/api/node', { token: token! })).status).toBe(200);
    return { port: Number(port), stderr: proc.stderr() };
  } finally {
    expect(await proc.stop('SIGTERM')).toBe(0);
  }
}

/** Hold a port on 127.0.0.1, as another program would. */
async function hold(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

const release = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

describe('the dashboard port of a data dir', () => {
  it('is chosen once, reused, moved aside for one run while taken, and reused again', { timeout: 240_000 }, async () => {
    const dataDir = join(dir, 'node');
    const first = await startAndStop(dataDir);
    expect(first.stderr).toBe('');
    expect((await readFile(join(dataDir, 'dashboard-port'), 'utf8')).trim()).toBe(String(first.port));

    const second = await startAndStop(dataDir);
    expect(second.port).toBe(first.port);
    expect(second.stderr).toBe('');

    const squatter = await hold(first.port);
    let moved;
    try {
      moved = await startAndStop(dataDir);
    } finally {
      await release(squatter);
    }
    expect(moved.port).not.toBe(first.port);
    expect(moved.stderr).toContain(`dashboard: port ${first.port}, this data dir's, is in use; serving on ${moved.port} for this run only`);
    // The data dir's own port is kept for the next start.
    expect((await readFile(join(dataDir, 'dashboard-port'), 'utf8')).trim()).toBe(String(first.port));

    const back = await startAndStop(dataDir);
    expect(back.port).toBe(first.port);
  });

  it('on a first start, takes another port when the first choice is taken, and remembers that one', { timeout: 120_000 }, async () => {
    const squatter = await hold(0);
    const taken = (squatter.address() as { port: number }).port;
    const start = async () => {
      const options = { ...testNodeOptions(dir, 'first-choice', join(dir, 'registry-2')), port: { stable: true as const, firstChoice: taken } };
      const node = await startNode(options);
      return { node, stop: () => node.close().then(() => options.acn.close()) };
    };
    try {
      const first = await start();
      try {
        expect(first.node.port).not.toBe(taken);
        expect(first.node.portOutcome).toEqual({ kind: 'chosen', busy: taken });
        expect(first.node.signInUrl).toBe(`http://127.0.0.1:${first.node.port}/#token=${first.node.token}`);
      } finally {
        await first.stop();
      }
      const again = await start();
      try {
        expect(again.node.port).toBe(first.node.port);
        expect(again.node.portOutcome).toEqual({ kind: 'remembered' });
      } finally {
        await again.stop();
      }
    } finally {
      await release(squatter);
    }
  });

  it('refuses a port given explicitly that is taken, as a typed error and a plain CLI message', { timeout: 120_000 }, async () => {
    const squatter = await hold(0);
    const taken = (squatter.address() as { port: number }).port;
    try {
      const run = await runCli(['node', 'start', '--data-dir', join(dir, 'explicit'), '--port', String(taken), '--loopback-registry', join(dir, 'registry')], {
        PURSUANCE_PASSWORD: 'stable port password',
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`pursuance: port ${taken} on 127.0.0.1 is in use: choose another --port, or leave --port out for this data dir's own\n`);
    } finally {
      await release(squatter);
    }
  });
});
