import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { PursuanceAuthor, RulesSchema, type SignedEvent } from '@pursuance/pursuance';
import { loadTemplates } from '../src/domain/templates.js';
import { DEFAULT_TEMPLATES_DIR, StartAbortedError, openNodeStore, startNode, type ReplayProgress } from '../src/index.js';
import { http } from './support/http.js';

/**
 * A node stopped while it starts (StartNodeOptions.signal, what the CLI's Ctrl-C passes): the
 * load of the logs ends at its next page rather than when it would have finished, startNode
 * closes what it opened and throws StartAbortedError, and the next start finds the store whole.
 */
const PASSWORD = 'node test password';
// Past the registry's progress step (2,000 events), so a progress report comes mid-load.
const TASKS = 2_100;
let dir: string;
let pursuanceId: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-start-abort-'));
  const rules = RulesSchema.parse((await loadTemplates(DEFAULT_TEMPLATES_DIR)).find((t) => t.id === 'activist-cell')!.rules);
  const opened = await openNodeStore({ dataDir: dir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
  try {
    const founder = PursuanceAuthor.create(opened.identity, { name: 'Big cell', rules });
    const events: SignedEvent[] = [founder.log.genesis];
    for (let i = 0; i < TASKS; i++) events.push(founder.createTask({ audience: ['member'], title: `Task ${i}` }));
    await opened.store.append(events, 'local');
    pursuanceId = founder.log.id;
  } finally {
    await opened.close();
  }
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const start = (extra: Partial<Parameters<typeof startNode>[0]>) =>
  startNode({ dataDir: dir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir: null, ...extra });

/** Whether anything still answers on the port (the API must be closed after an aborted start). */
async function answers(url: string): Promise<boolean> {
  try {
    await http(Number(new URL(url).port), 'GET', '/api/pursuances');
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'ECONNREFUSED') return false;
    throw err;
  }
}

describe('a start called off', () => {
  it('before the load: nothing is loaded, the API is closed, StartAbortedError', async () => {
    const stop = new AbortController();
    const progress: ReplayProgress[] = [];
    let url = '';
    const started = start({
      signal: stop.signal,
      onListening: (u) => {
        url = u;
        stop.abort();
      },
      onReplayProgress: (p) => void progress.push(p),
    });
    await expect(started).rejects.toBeInstanceOf(StartAbortedError);
    expect(progress).toEqual([]);
    expect(url).not.toBe('');
    expect(await answers(url)).toBe(false);
  });

  it('mid-load: the load ends at the next page, and the next start loads the whole store', async () => {
    const stop = new AbortController();
    const progress: number[] = [];
    const started = start({
      signal: stop.signal,
      onReplayProgress: (p) => {
        progress.push(p.done);
        stop.abort();
      },
    });
    await expect(started).rejects.toBeInstanceOf(StartAbortedError);
    // One report (at the progress step), and none at the end: the pages after it were not read.
    expect(progress).toHaveLength(1);
    expect(progress[0]).toBeLessThan(TASKS + 1);

    const node = await start({});
    try {
      expect(node.registry.isLoaded(pursuanceId)).toBe(true);
      const list = await http(node.port, 'GET', `/api/pursuances/${pursuanceId}/tasks`, { token: node.token });
      expect((list.body as unknown[]).length).toBe(TASKS);
    } finally {
      await node.close();
    }
  });
});
