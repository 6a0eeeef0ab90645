import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, toBase64 } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog } from '@pursuance/pursuance';
import { startNode, type RunningNode } from '../src/index.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { untilChange } from '../../../test/support/until-change.js';
import { http } from './support/http.js';

/**
 * A role left due for rotation falls to the member who made its key; when that member is offline
 * the next in line (PursuanceAuthor.rotationTurns) replaces the key after its turn's wait, so a
 * role is never left due for good. The wait is measured, not slept on: the rotation A signs is
 * dated at least one stagger after A first saw the key due, and it comes with nothing else arriving.
 */
let root: string;
let a: RunningNode;
let pid: string;
const STAGGER = 500;

const api = (method: string, path: string, body?: unknown) =>
  http(a.port, method, `/api/pursuances/${pid}${path}`, { token: a.token, ...(body === undefined ? {} : { body }) });
const memberRole = async () =>
  ((await api('GET', '/roles')).body as { id: string; rotationDue: boolean; rotatedBy: string | null }[]).find((r) => r.id === 'member')!;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-due-rotation-'));
  a = await startNode(testNodeOptions(root, 'a', join(root, 'loopback')));
  a.registry.rotationStaggerMs = STAGGER;
  pid = ((await http(a.port, 'POST', '/api/pursuances', { token: a.token, body: { name: 'Turns', template: 'activist-cell' } })).body as { id: string }).id;
});
afterAll(async () => {
  await a?.close();
  await rm(root, { recursive: true, force: true });
});

describe('a key due for rotation whose maker is offline', () => {
  it('is replaced by the next member in line once its turn comes, and not before', async () => {
    const [organizer, member] = [Identity.generate(), Identity.generate()];
    for (const [who, roles] of [
      [organizer, ['organizer', 'member']],
      [member, ['member']],
    ] as const) {
      const r = await api('POST', '/members', { onion: who.onion, roles });
      expect(r.status, r.text).toBe(201);
    }
    // Elsewhere, the organizer makes the members' current key, then the member leaves: the key is
    // due, and it falls to the organizer first — who is offline from here on.
    const exported = (await api('GET', '/events')).body as { events: string[] };
    const log = new PursuanceLog(Buffer.from(exported.events[0]!, 'base64'));
    log.addAll(exported.events.slice(1).map((e) => Buffer.from(e, 'base64')));
    const rotation = new PursuanceAuthor(organizer, log).rotateKeys(['member']);
    const leave = new PursuanceAuthor(member, log).leave();
    // A may rotate (the founder): second in line, after the organizer who made the key.
    expect(new PursuanceAuthor(a.identity, log).rotationTurns().map((x) => [x.role, x.turn])).toEqual([['member', 1]]);
    const sent = Date.now();
    expect((await api('POST', '/events', { events: [rotation, leave].map((e) => toBase64(e.bytes)) })).status).toBe(200);

    // A's turn comes: it replaces the key on its own, with nothing else arriving, and not before.
    await untilChange(a, () => a.registry.get(pid).log.state().roles.get('member')!.rotationDueSince === null, 'A to replace the due key', 60_000);
    const replaced = a.registry.get(pid).log.event(a.registry.get(pid).log.state().roles.get('member')!.epochs.at(-1)!.introducedBy)!;
    expect(replaced.header.kind).toBe('keys.rotate');
    expect(replaced.author).toBe(a.identity.onion);
    expect(replaced.header.time - sent, 'A waited for its turn').toBeGreaterThanOrEqual(STAGGER);
    const role = await memberRole();
    expect(role).toMatchObject({ rotationDue: false, rotatedBy: a.identity.onion });
    // Not the departed member's key any more.
    const current = a.registry.get(pid).log.state().roles.get('member')!.epochs.at(-1)!;
    expect(current.recipients.has(member.onion)).toBe(false);
    // Nothing is due any more: the next time the node looks (events arriving, here one it has
    // already), it forgets the role it waited on, instead of keeping every departure since start.
    expect((await api('POST', '/events', { events: [toBase64(leave.bytes)] })).status).toBe(200);
    expect(a.registry.dueWaiting()).toBe(0);
  });
});
