import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, Identity, toBase64 } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, RulesSchema, signEvent, type SignedEvent } from '@pursuance/pursuance';
import { startNode, type RunningNode } from '../src/index.js';
import { EventStore } from '../src/store/event-store.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';

/**
 * Finding 6, node side: an event waiting for ancestors is refused (PENDING_REFUSED) when its
 * author is nobody the log knows as a member. The node keeps such inputs and offers them again
 * after every ingest that stored something, and once at start; those the log now takes are
 * stored and dropped from the kept inputs. A stranger's orphan stays refused.
 */
let root: string;
let node: RunningNode | undefined;
let founder: PursuanceAuthor;
let pid: string;
let identity: Identity;
const options = () => testNodeOptions(root, 'c', join(root, 'loopback'));

interface Report {
  stored: number;
  accepted: number;
  invalid: { eventId: string; code: string }[];
}
const post = async (events: readonly SignedEvent[]) => {
  const r = await http(node!.port, 'POST', `/api/pursuances/${pid}/events`, { token: node!.token, body: { events: events.map((e) => toBase64(e.bytes)) } });
  expect(r.status, r.text).toBe(200);
  return r.body as Report;
};
const feedItem = async (id: string) =>
  ((await http(node!.port, 'GET', `/api/pursuances/${pid}/feed?limit=5000`, { token: node!.token })).body as { id: string; accepted: boolean }[]).find(
    (f) => f.id === id,
  );
const keptInputs = async () => {
  const store = await EventStore.open(join(root, 'c', 'node.sqlite'), identity);
  try {
    return (await store.rejectedInputs(pid)).map((r) => ({ hash: r.hash, code: r.code }));
  } finally {
    await store.close();
  }
};

/** A new member added by the founder, and a task that member creates on top of it. */
function memberWithTask(title: string): { add: SignedEvent; task: SignedEvent } {
  const m = Identity.generate();
  const add = founder.addMember(m.publicKey, { name: title.toLowerCase(), roles: ['member'] });
  const log = new PursuanceLog(founder.log.genesis.bytes);
  for (const e of founder.log.events()) if (e.id !== log.id) log.add(e.bytes);
  const task = new PursuanceAuthor(m, log).createTask({ audience: ['member'], title });
  return { add, task };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-pending-refused-'));
  const { $schema: _schema, ...template } = JSON.parse(
    await readFile(new URL('../../../rules/templates/activist-cell.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown>;
  founder = PursuanceAuthor.create(Identity.generate(), { name: 'Orphans', rules: RulesSchema.parse(template) });
  pid = founder.log.id;
  node = await startNode(options());
  identity = node.identity;
  await post([founder.log.genesis]);
});
afterAll(async () => {
  await node?.close();
  await rm(root, { recursive: true, force: true });
});

describe('inputs refused while their ancestors are missing', () => {
  it('takes a refused event in once the member.add it waited for arrives', async () => {
    const { add, task } = memberWithTask('Canvass');
    const first = await post([task]);
    expect(first).toMatchObject({ stored: 0, accepted: 0, invalid: [{ eventId: task.id, code: 'PENDING_REFUSED' }] });
    expect(await feedItem(task.id)).toBeUndefined();

    const second = await post([add]);
    expect(second).toMatchObject({ stored: 2, accepted: 2, invalid: [] });
    expect(await feedItem(task.id)).toMatchObject({ accepted: true });
  });

  it('takes it in within one batch where it comes before its ancestor', async () => {
    const { add, task } = memberWithTask('Banner');
    expect(await post([task, add])).toMatchObject({ stored: 2, accepted: 2, invalid: [] });
    expect(await feedItem(task.id)).toMatchObject({ accepted: true });
  });

  it('keeps a stranger’s orphan refused, and offers kept inputs again at start', async () => {
    const stranger = Identity.generate();
    const orphan = signEvent(stranger, {
      pursuance: fromHex(pid),
      seq: 1,
      parents: [new Uint8Array(randomBytes(32))],
      time: 1,
      kind: 'member.leave',
      audience: [],
      body: {},
    });
    const { add, task } = memberWithTask('Flyers');
    expect((await post([orphan, task])).invalid.map((r) => r.code)).toEqual(['PENDING_REFUSED', 'PENDING_REFUSED']);
    const { add: other } = memberWithTask('Unrelated');
    expect(await post([other])).toMatchObject({ stored: 1 });
    expect(await feedItem(task.id)).toBeUndefined();
    await node!.close();
    node = undefined;

    // As if the node had stopped right after storing the member.add, before offering again.
    const store = await EventStore.open(join(root, 'c', 'node.sqlite'), identity);
    expect((await store.rejectedInputs(pid)).map((r) => r.hash).sort()).toEqual([orphan.id, task.id].sort());
    await store.append([add], 'group');
    await store.close();

    node = await startNode(options());
    expect(await feedItem(task.id)).toMatchObject({ accepted: true });
    expect(await feedItem(orphan.id)).toBeUndefined();
    await node.close();
    node = undefined;
    expect(await keptInputs()).toEqual([{ hash: orphan.id, code: 'PENDING_REFUSED' }]);
  });
});
