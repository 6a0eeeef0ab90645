import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, toBase64 } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, TapirService, type Connection } from '@pursuance/tapir';
import { OVERLAY, encodeOverlay, type CwtchPeer } from '../src/index.js';
import { PEER_CONTEXT } from '../src/protocol-profile.js';
import { encodePeerMessage, parsePeerMessage } from '../src/peer-protocol.js';
import { retryDelay } from '../src/backoff.js';
import { until, waitForEvent } from './support/helpers.js';
import { cwtchWorld, type CwtchWorld } from './support/world.js';

let world: CwtchWorld;
beforeAll(async () => {
  world = await cwtchWorld();
});
afterAll(async () => {
  await world.cleanup();
});

/** A bare tapir client speaking raw PeerMessages (to send what a well-behaved peer never would). */
async function rawClient(to: CwtchPeer): Promise<{ conn: Connection; identity: Identity }> {
  const identity = Identity.generate();
  const service = new TapirService(world.acn(), identity);
  const conn = await service.connect(to.onion, new ApplicationChain([new AuthApp()]));
  return { conn, identity };
}

describe('contacts and direct messages', () => {
  it('delivers a message with an acknowledgement; the recipient sees a contact request and can accept it', async () => {
    const alice = (await world.peer('alice')).peer;
    const bob = (await world.peer('bob')).peer;
    await alice.addContact(bob.onion, 'bob');
    const request = waitForEvent<string>(bob, 'contactRequest');
    const received = waitForEvent<{ id: string; from: string; overlay: { o: number; d: string }; contactState: string }>(bob, 'message');
    const id = await alice.sendMessage(bob.onion, 'hello bob');
    const delivered = await waitForEvent<{ to: string; id: string }>(alice, 'delivered', (d) => d.id === id);
    expect(delivered.to).toBe(bob.onion);
    expect(await request).toBe(alice.onion);
    expect(await received).toMatchObject({ id, from: alice.onion, overlay: { o: OVERLAY.chat, d: 'hello bob' }, contactState: 'pending' });
    expect(await alice.directMessages(bob.onion)).toMatchObject([{ id, direction: 'out', data: 'hello bob', acked: true }]);
    expect(await bob.directMessages(alice.onion)).toMatchObject([{ id, direction: 'in', data: 'hello bob' }]);
    expect(alice.pendingMessages()).toEqual([]);
    expect(bob.contact(alice.onion)?.state).toBe('pending');
    await bob.acceptContact(alice.onion);
    expect(bob.contact(alice.onion)?.state).toBe('accepted');
    // And back the other way.
    const back = await bob.sendMessage(alice.onion, 'hi alice');
    await waitForEvent<{ id: string }>(bob, 'delivered', (d) => d.id === back);
  });

  it('queues while the contact is offline, retries with backoff, survives a restart, and delivers in order once it is back', async () => {
    const alice = await world.peer('alice2');
    const bob = await world.peer('bob2', { start: false });
    await alice.peer.addContact(bob.peer.onion);
    const failures: { id: string; attempts: number; nextAttemptAt: number }[] = [];
    alice.peer.on('deliveryFailed', (f) => failures.push(f));
    const first = await alice.peer.sendMessage(bob.peer.onion, 'one');
    const second = await alice.peer.sendMessage(bob.peer.onion, 'two');
    await until(alice.peer, 'deliveryFailed', () => failures.filter((f) => f.id === first).length >= 3);
    const attempts = failures.filter((f) => f.id === first);
    expect(attempts.map((f) => f.attempts).slice(0, 3)).toEqual([1, 2, 3]);
    // Backoff: each retry is scheduled further out than the one before.
    expect(attempts[1]!.nextAttemptAt - attempts[0]!.nextAttemptAt).toBeGreaterThan(0);

    // Restart alice: the queue comes back from the store.
    await alice.restart({ start: false });
    expect(alice.peer.pendingMessages(bob.peer.onion).map((p) => p.id)).toEqual([first, second]);
    const got: string[] = [];
    bob.peer.on('message', (m) => got.push(m.overlay.d));
    await bob.peer.start();
    const delivered: string[] = [];
    alice.peer.on('delivered', (d) => delivered.push(d.id));
    await alice.peer.start();
    await until(alice.peer, 'delivered', () => delivered.length === 2);
    expect(delivered).toEqual([first, second]);
    expect(got).toEqual(['one', 'two']);
    expect(alice.peer.pendingMessages()).toEqual([]);
  });

  it('acknowledges a retried message again but delivers it only once', async () => {
    const bob = (await world.peer('bob3')).peer;
    const { conn, identity } = await rawClient(bob);
    const got: string[] = [];
    bob.on('message', (m) => got.push(m.id));
    const message = encodePeerMessage({ id: 'retry1', context: PEER_CONTEXT.raw, data: encodeOverlay({ o: OVERLAY.chat, d: 'once' }) });
    await conn.send(message);
    expect(parsePeerMessage(await conn.expect())).toMatchObject({ id: 'retry1', context: PEER_CONTEXT.ack });
    await conn.send(message);
    expect(parsePeerMessage(await conn.expect())).toMatchObject({ id: 'retry1', context: PEER_CONTEXT.ack });
    expect(got).toEqual(['retry1']);
    expect(bob.contact(identity.onion)?.state).toBe('pending');
    conn.close();
  });

  it('handles pipelined messages in arrival order, a quick retry included, each delivered once', async () => {
    const bob = (await world.peer('bob3b')).peer;
    const { conn } = await rawClient(bob);
    const got: string[] = [];
    bob.on('message', (m) => got.push(m.overlay.d));
    const raw = (id: string, text: string) => encodePeerMessage({ id, context: PEER_CONTEXT.raw, data: encodeOverlay({ o: OVERLAY.chat, d: text }) });
    const sends = [raw('p1', 'one'), raw('p1', 'one'), raw('p2', 'two'), raw('p3', 'three'), raw('p4', 'four')];
    await Promise.all(sends.map((m) => conn.send(m)));
    const acks: string[] = [];
    for (let i = 0; i < sends.length; i++) acks.push(parsePeerMessage(await conn.expect()).id);
    expect(acks).toEqual(['p1', 'p1', 'p2', 'p3', 'p4']);
    expect(got).toEqual(['one', 'two', 'three', 'four']);
    conn.close();
  });

  it('ignores unknown contexts (im.cwtch.version) and drops a link that sends garbage', async () => {
    const bob = (await world.peer('bob4')).peer;
    const { conn } = await rawClient(bob);
    await conn.send(encodePeerMessage({ id: 'v', context: PEER_CONTEXT.version, data: Uint8Array.of(2) }));
    await conn.send(encodePeerMessage({ id: 'later', context: 'org.example.future', data: new Uint8Array(3) }));
    await conn.send(encodePeerMessage({ id: 'm1', context: PEER_CONTEXT.raw, data: encodeOverlay({ o: OVERLAY.chat, d: 'still here' }) }));
    // The first answer is the ack of m1: nothing was sent for the ignored contexts.
    expect(parsePeerMessage(await conn.expect())).toMatchObject({ id: 'm1', context: PEER_CONTEXT.ack });
    const warning = waitForEvent<{ code: string; where: string }>(bob, 'warning');
    await conn.sendJSON({ ID: 'x', Context: PEER_CONTEXT.raw, Data: toBase64(new Uint8Array(1)), Extra: true });
    expect(await warning).toEqual({ code: 'PEER_MESSAGE_INVALID', where: 'p2p' });
    await expect(conn.closed).resolves.toBeDefined();
  });

  it('a blocked contact is refused: nothing it sends arrives', async () => {
    const alice = (await world.peer('alice5')).peer;
    const bob = (await world.peer('bob5')).peer;
    await alice.addContact(bob.onion);
    await bob.blockContact(alice.onion);
    const received: unknown[] = [];
    bob.on('message', (m) => received.push(m));
    const id = await alice.sendMessage(bob.onion, 'let me in');
    const failure = await waitForEvent<{ id: string; code: string }>(alice, 'deliveryFailed', (f) => f.id === id);
    expect(failure.code).toMatch(/PEER_UNREACHABLE|REQUEST_TIMEOUT/);
    expect(received).toEqual([]);
    await expect(bob.sendMessage(alice.onion, 'no')).rejects.toMatchObject({ code: 'CONTACT_BLOCKED' });
    await expect(alice.sendMessage(Identity.generate().onion, 'who?')).rejects.toMatchObject({ code: 'CONTACT_UNKNOWN' });
  });

  it('answers public attribute requests (display name and set attributes) and nothing else', async () => {
    const alice = (await world.peer('alice6')).peer;
    const bob = (await world.peer('bob6')).peer;
    await alice.setPublicAttribute('bio', 'organiser');
    expect(await bob.requestAttribute(alice.onion, 'name')).toEqual({ exists: true, value: 'alice6' });
    expect(await bob.requestAttribute(alice.onion, 'bio')).toEqual({ exists: true, value: 'organiser' });
    expect(await bob.requestAttribute(alice.onion, 'phone')).toEqual({ exists: false, value: '' });
    expect(await bob.requestAttribute(alice.onion, 'name', 'private')).toEqual({ exists: false, value: '' });
    // Paths are a stranger's words: Object.prototype's names are no attributes of ours.
    for (const path of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(await bob.requestAttribute(alice.onion, path), path).toEqual({ exists: false, value: '' });
    }
  });
});

describe('retry policy', () => {
  it('backs off exponentially up to the cap, with bounded jitter', () => {
    const policy = { baseMs: 100, maxMs: 1000, jitter: 0.2 };
    expect([1, 2, 3, 4, 5, 10].map((a) => retryDelay(a, policy, () => 0.5))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(retryDelay(1, policy, () => 0)).toBe(80);
    expect(retryDelay(1, policy, () => 1)).toBe(120);
    expect(retryDelay(10, policy, () => 1)).toBe(1000);
  });
});
