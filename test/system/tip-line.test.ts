import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMemberView, type EventId } from '@pursuance/pursuance';
import type { RunningNode } from '../../apps/node/src/index.js';
import { untilStream } from '../support/change-stream.js';
import { api, relayNetwork, type Api, type RelayNetwork } from '../support/relay-network.js';
import { untilAsync, untilChange } from '../support/until-change.js';

/**
 * A newsroom's tip line over a relay process: two sources submit to the `tips` audience, which
 * only editors hold. Each source reads its own tip and not the other's, the editor reads both;
 * after the editor is removed, a new tip is sealed to the re-keyed audience and the removed
 * editor can read none of it. One source runs as its own `pursuance node start` process, so
 * its tip travels between processes. Waits are on changes the nodes report, never on timers.
 */
let net: RelayNetwork;
let bundle: string;
const node = (name: string) => net.node(name);

interface TaskJson {
  readonly id: string;
  readonly title: string | null;
  readonly body: string | null;
  readonly readable: boolean;
  readonly submission?: true;
  readonly createdBy: string;
}

beforeAll(async () => {
  net = await relayNetwork('tip-line-');
  bundle = net.bundle;
});

afterAll(async () => {
  await net?.close();
});

describe('a tip line: write-only submissions between nodes', () => {
  it('each source reads only its own tip, the editor reads both, and a removed editor reads none sent after the removal', { timeout: 300_000 }, async () => {
    const founder = await node('masthead');
    const editor = await node('editor');
    const sam = await node('sam');
    const sue = await net.process('sue');

    const id = ((await api(founder, 'POST', '/api/pursuances', { name: 'The Ledger', template: 'newsroom' })).body as { id: string }).id;
    const p = (path: string) => `/api/pursuances/${id}${path}`;
    expect((await api(founder, 'POST', p('/relay/attach'), { bundle })).status).toBe(200);
    await api(founder, 'POST', p('/members'), { onion: editor.identity.onion, name: 'Eda', roles: ['editor', 'desk', 'tips'] });
    await api(founder, 'POST', p('/members'), { onion: sam.identity.onion, name: 'Sam', roles: ['source'] });
    await api(founder, 'POST', p('/members'), { onion: sue.onion, name: 'Sue', roles: ['source'] });
    const { invite } = (await api(founder, 'GET', p('/invite'))).body as { invite: string };
    const hash = (n: RunningNode) => n.registry.get(id).log.stateHash();
    for (const n of [editor, sam]) {
      expect((await api(n, 'POST', '/api/invites/accept', { invite })).body).toEqual({ pursuanceId: id, status: 'joined' });
      await untilChange([n, founder], () => hash(n) === hash(founder), 'a member to join');
    }
    expect((await api(sue, 'POST', '/api/invites/accept', { invite })).body).toEqual({ pursuanceId: id, status: 'joined' });
    const hashOf = async (n: Api) => ((await api(n, 'GET', p(''))).body as { stateHash?: string }).stateHash;
    await untilStream(sue, async () => (await hashOf(sue)) === hash(founder), 'sue to join');

    // The tips role accepts submissions (its key published public halves); sources hold no key of it.
    const roles = (await api(sam, 'GET', p('/roles'))).body as { id: string; publicKey: boolean; plantedKey: boolean; iHoldKey: boolean }[];
    expect(roles.find((r) => r.id === 'tips')).toMatchObject({ publicKey: true, plantedKey: false, iHoldKey: false });

    // Two tips, one from each source (one of them from the other process).
    const tipOf = async (n: Api, title: string, body: string) => {
      const res = await api(n, 'POST', p('/submissions'), { audience: 'tips', title, body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({ title, body, readable: true, submission: true });
      return (res.body as TaskJson).id;
    };
    const samTip = await tipOf(sam, 'Invoices', 'The mayor signed them twice.');
    const sueTip = await tipOf(sue, 'Warehouse', 'Trucks leave at 3am.');

    const tasks = async (n: Api) => (await api(n, 'GET', p('/tasks'))).body as TaskJson[];
    const titles = async (n: Api) => new Map((await tasks(n)).map((t) => [t.id, t.readable ? t.title : null]));
    // A node stores an event and writes its read model after the log took it in: waits are on what the API serves.
    const serves = async (n: RunningNode, ...taskIds: string[]) => {
      const seen = await titles(n);
      return taskIds.every((t) => seen.has(t));
    };
    await untilAsync([editor.registry], () => serves(editor, samTip, sueTip), 'the editor to get both tips');
    const edSees = await titles(editor);
    expect([edSees.get(samTip), edSees.get(sueTip)]).toEqual(['Invoices', 'Warehouse']);

    // Each source sees that the other's tip exists (the log is public to members), never what it says.
    await untilAsync([sam.registry], () => serves(sam, sueTip), 'sam to get sue’s tip');
    const samSees = await titles(sam);
    expect([samSees.get(samTip), samSees.get(sueTip)]).toEqual(['Invoices', null]);
    await untilStream(sue, async () => (await titles(sue)).has(samTip), 'sue to get sam’s tip');
    const sueSees = await titles(sue);
    expect([sueSees.get(sueTip), sueSees.get(samTip)]).toEqual(['Warehouse', null]);
    const hidden = (await tasks(sue)).find((t) => t.id === samTip)!;
    expect(hidden).toMatchObject({ readable: false, title: null, body: null, submission: true });

    // The editor triages Sam's tip; the triage is sealed to the tips role, so Sam does not read it.
    const comment = await api(editor, 'POST', p(`/tasks/${samTip}/changes`), { op: 'comment', body: 'Who else has the invoices?' });
    expect(comment.status, JSON.stringify(comment.body)).toBeLessThan(300);
    const commentId = (comment.body as { id: EventId }).id;
    const inFeed = async (n: RunningNode, eventId: string) =>
      ((await api(n, 'GET', p('/feed'))).body as { id: string; accepted: boolean }[]).some((i) => i.id === eventId && i.accepted);
    await untilAsync([sam.registry], () => inFeed(sam, commentId), 'sam to get the comment event');
    expect(((await api(sam, 'GET', p(`/tasks/${samTip}`))).body as { comments: unknown[] }).comments).toEqual([]);

    // The masthead removes the editor: every role they held is re-keyed, the group too.
    const removal = await api(founder, 'DELETE', p(`/members/${editor.identity.onion}`), { reason: 'left the paper' });
    expect((removal.body as { kind: string }).kind).toBe('member.remove');
    const removalId = (removal.body as { id: EventId }).id;
    await untilChange([sam], () => sam.registry.get(id).log.isAccepted(removalId), 'sam to see the removal');

    // A tip after the removal goes to the new tips key.
    const after = await tipOf(sam, 'After the removal', 'For the editors who stayed.');
    await untilAsync([founder.registry], () => serves(founder, after), 'the masthead to get the new tip');
    expect((await titles(founder)).get(after)).toBe('After the removal');
    // The removed editor's node never gets it (the group was re-keyed without it) ...
    expect((await titles(editor)).has(after)).toBe(false);
    // ... and could not read it if it did: with every key the editor's node holds, over the full log, it stays sealed.
    const full = founder.registry.get(id).log;
    const editorKeys = editor.registry.get(id).author.keyring;
    const asEditor = buildMemberView(full, editor.identity, editorKeys).tasks.get(after as EventId)!;
    expect(asEditor.readable).toBe(false);
    expect(asEditor.title).toBeUndefined();
    // (What was sent while they were an editor they did read: that is inherent, and said so in the design note.)
    expect(buildMemberView(full, editor.identity, editorKeys).tasks.get(samTip as EventId)!.title).toBe('Invoices');
  });
});
