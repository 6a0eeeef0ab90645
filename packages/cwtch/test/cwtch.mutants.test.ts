// Tests added because a mutation run (npm run mutate -- cwtch) showed these checks could be
// removed or weakened with every other test still passing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncryptedGroupMessage } from '@pursuance/relay';
import { Identity, canonicalEncode, padToSize, toHex, type CanonicalValue } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, TapirService } from '@pursuance/tapir';
import { FragmentInvalidError, GroupMessageInvalidError, groupGenesis } from '../src/index.js';
import { FRAGMENT_ID_SIZE, GROUP_PADDED_PLAINTEXT_SIZE, MAX_GROUP_PAYLOAD_PER_MESSAGE, PEER_CONTEXT } from '../src/protocol-profile.js';
import { GroupLog, type LogEntry } from '../src/group-log.js';
import { RepairEngine, WITHHELD_REASON, type RepairOutcome } from '../src/repair.js';
import { decodeGroupPlaintext, encodeGroupPlaintext } from '../src/group-envelope.js';
import { encodeRepairAnswer, parseRepairRequest } from '../src/repair-protocol.js';
import { encodePeerMessage, newMessageId, parsePeerMessage, type PeerMessage } from '../src/peer-protocol.js';
import type { GroupManager } from '../src/group-manager.js';
import type { PeerLink, PeerLinks } from '../src/peer-links.js';
import { cwtchWorld, type CwtchWorld, type PeerHandle } from './support/world.js';

const sender = Identity.generate().onion;
const previous = new Uint8Array(64).fill(7);

/** Pad and decode a plaintext map exactly as a receiver would after decryption. */
const decode = (value: CanonicalValue) => decodeGroupPlaintext(padToSize(canonicalEncode(value), GROUP_PADDED_PLAINTEXT_SIZE));
const base = { v: 1, s: sender, t: 1, p: previous, d: new Uint8Array(2) };
const fragment = { m: new Uint8Array(FRAGMENT_ID_SIZE), i: 0, n: 2, l: MAX_GROUP_PAYLOAD_PER_MESSAGE + 1 };
const fullPart = new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE);

/** Exactly GroupMessageInvalidError: not a TypeError, and not a FragmentInvalidError from a later check. */
function expectGroupInvalid(value: CanonicalValue, what: string): void {
  let error: unknown;
  try {
    decode(value);
  } catch (e) {
    error = e;
  }
  expect(error, what).toBeInstanceOf(GroupMessageInvalidError);
}

describe('decodeGroupPlaintext refuses with GroupMessageInvalidError, never anything else', () => {
  it('controls: the base plaintext and a fragment decode', () => {
    expect(decode(base)).toMatchObject({ sender, timestamp: 1, fragment: undefined });
    expect(decode({ ...base, d: fullPart, f: fragment }).fragment).toMatchObject({ index: 0, count: 2 });
  });

  it('a plaintext that is not a map', () => {
    for (const value of [null, 5, true, 'text', new Uint8Array(3), [1, 2]] as CanonicalValue[]) expectGroupInvalid(value, JSON.stringify(value));
  });

  it('a sender that is not an onion name, checked by the parser itself', () => {
    const senders: CanonicalValue[] = [new Uint8Array(32), 5, 'not-an-onion', `${sender.slice(0, -1)}a`];
    senders.forEach((s, i) => expectGroupInvalid({ ...base, s }, `sender #${i}`));
  });

  it('a timestamp that is not a non-negative integer', () => {
    const timestamps: CanonicalValue[] = ['1', new Uint8Array(1), null, -1, true];
    timestamps.forEach((t, i) => expectGroupInvalid({ ...base, t }, `timestamp #${i}`));
  });

  it('an unfragmented payload one byte over the per-message maximum (it would still fit the padding)', () => {
    expect(decode({ ...base, d: new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE) }).payload).toHaveLength(MAX_GROUP_PAYLOAD_PER_MESSAGE);
    expectGroupInvalid({ ...base, d: new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE + 1) }, 'oversized payload');
  });

  it('a fragment header of the wrong shape or with fields of the wrong type', () => {
    const bad: [string, CanonicalValue][] = [
      ['null', null],
      ['a number', 5],
      ['bytes', new Uint8Array(4)],
      ['an array', [1, 2, 3, 4]],
      ['an extra field', { ...fragment, x: 1 }],
      ['id as text', { ...fragment, m: 'aaaaaaaaaaaaaaaa' }],
      ['index as text', { ...fragment, i: '0' }],
      ['count as bytes', { ...fragment, n: new Uint8Array(1) }],
      ['length as null', { ...fragment, l: null }],
      ['negative index', { ...fragment, i: -1 }],
    ];
    for (const [what, f] of bad) expectGroupInvalid({ ...base, d: fullPart, f }, `fragment header: ${what}`);
  });
});

describe('encodeGroupPlaintext checks what it is asked to send', () => {
  const message = { sender, timestamp: 1, previous, payload: new Uint8Array(2), fragment: undefined };
  it('refuses an oversized payload and a previous signature that is not 64 bytes', () => {
    expect(() => encodeGroupPlaintext({ ...message, payload: new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE + 1) })).toThrow(GroupMessageInvalidError);
    expect(() => encodeGroupPlaintext({ ...message, previous: new Uint8Array(63) })).toThrow(GroupMessageInvalidError);
  });

  it('refuses a fragment header that does not match its data', () => {
    const header = { id: new Uint8Array(FRAGMENT_ID_SIZE), index: 0, count: 2, length: MAX_GROUP_PAYLOAD_PER_MESSAGE + 1 };
    expect(() => encodeGroupPlaintext({ ...message, payload: fullPart, fragment: header })).not.toThrow();
    expect(() => encodeGroupPlaintext({ ...message, payload: new Uint8Array(10), fragment: header })).toThrow(FragmentInvalidError);
  });
});

describe('GroupLog fragment sets (entries added directly, as the log trusts its caller)', () => {
  const groupId = '0123456789abcdef0123456789abcdef';
  const genesis = groupGenesis(groupId);
  let counter = 1000;
  const part = (id: number, index: number, count: number, length: number, payload: Uint8Array): LogEntry => {
    const signature = new Uint8Array(64);
    new DataView(signature.buffer).setUint32(0, ++counter);
    const fragmentId = new Uint8Array(FRAGMENT_ID_SIZE).fill(id);
    return {
      signature,
      previous: genesis,
      sender,
      timestamp: counter,
      payload,
      fragment: { id: fragmentId, index, count, length },
      own: false,
      acked: false,
      source: 'relay',
    };
  };
  const total = MAX_GROUP_PAYLOAD_PER_MESSAGE + 5;
  const last = new Uint8Array(5);

  it('exposes its genesis', () => {
    expect(new GroupLog(groupId, genesis).genesis).toBe(toHex(genesis));
  });

  it('control: two agreeing parts are delivered once', () => {
    const log = new GroupLog(groupId, genesis);
    log.add(part(1, 0, 2, total, fullPart));
    expect(log.add(part(1, 1, 2, total, last))).toMatchObject({ added: true, delivered: { payload: expect.any(Uint8Array) } });
  });

  it('parts that disagree on the count, or on the total length, make the set corrupt and nothing is delivered', () => {
    const byCount = new GroupLog(groupId, genesis);
    byCount.add(part(2, 0, 2, total, fullPart));
    expect(byCount.add(part(2, 1, 3, total, last))).toMatchObject({ delivered: undefined });
    expect(byCount.delivered()).toEqual([]);
    expect(byCount.gapReport().corruptFragments).toHaveLength(1);

    const byLength = new GroupLog(groupId, genesis);
    byLength.add(part(3, 0, 2, total, fullPart));
    expect(byLength.add(part(3, 1, 2, total + 1, last))).toMatchObject({ delivered: undefined });
    expect(byLength.delivered()).toEqual([]);
    expect(byLength.gapReport().corruptFragments).toHaveLength(1);
  });

  it('a set whose parts agree but whose data does not add up to the declared length is corrupt', () => {
    const log = new GroupLog(groupId, genesis);
    log.add(part(4, 0, 2, total, fullPart));
    expect(log.add(part(4, 1, 2, total, new Uint8Array(4)))).toMatchObject({ delivered: undefined });
    expect(log.delivered()).toEqual([]);
    expect(log.gapReport().corruptFragments).toHaveLength(1);
  });

  it('reports corrupt sets sorted, whatever order they were found in', () => {
    const log = new GroupLog(groupId, genesis);
    for (const id of [9, 5]) {
      log.add(part(id, 0, 2, total, fullPart));
      log.add(part(id, 0, 2, total, fullPart)); // a second part 0: corrupt
    }
    const corrupt = log.gapReport().corruptFragments;
    expect(corrupt).toHaveLength(2);
    expect(corrupt).toEqual([...corrupt].sort());
    expect(corrupt[0]).toContain(toHex(new Uint8Array(FRAGMENT_ID_SIZE).fill(5)));
  });
});

describe('a malformed repair request', () => {
  let world: CwtchWorld;
  let alice: PeerHandle;
  beforeAll(async () => {
    world = await cwtchWorld();
    alice = await world.peer('alice');
  });
  afterAll(async () => {
    await world.cleanup();
  });

  it('is answered with a bare end of sync, like any request that finds nothing', async () => {
    const service = new TapirService(world.acn(), Identity.generate());
    try {
      const conn = await service.connect(alice.peer.onion, new ApplicationChain([new AuthApp()]));
      const id = newMessageId();
      await conn.send(encodePeerMessage({ id, context: PEER_CONTEXT.groupSyncRequest, data: new TextEncoder().encode('{"GroupID": 5}') }));
      for (;;) {
        const reply = parsePeerMessage(await conn.expect());
        if (reply.id !== id) continue;
        expect(reply.context).toBe(PEER_CONTEXT.groupSyncEnd);
        expect(reply.data).toHaveLength(0);
        break;
      }
    } finally {
      await service.close();
    }
  });
});

/**
 * The asking side of gap repair, against one member whose answers a test script controls. The
 * group and the links are stand-ins: the engine only asks them for the log, hands them answers
 * and sends requests, and these tests are about what it does with a member's replies.
 */
describe('RepairEngine asking a member that misbehaves', () => {
  const groupId = '0123456789abcdef0123456789abcdef';
  const genesis = groupGenesis(groupId);
  const member = Identity.generate().onion;
  const signatureOf = (n: number): Uint8Array => new Uint8Array(64).fill(n);
  const entry = (signature: Uint8Array, previous: Uint8Array): LogEntry => ({
    signature,
    previous,
    sender: member,
    timestamp: 1,
    payload: new Uint8Array(1),
    fragment: undefined,
    own: false,
    acked: false,
    source: 'relay',
  });
  const answer = (signature: Uint8Array): Uint8Array => encodeRepairAnswer({ ciphertext: new Uint8Array(4096), signature });

  interface Script {
    /** The member's reaction to request `id` for `asked`: reply through `reply`, or `close` the link. */
    serve(asked: readonly Uint8Array[], reply: (context: string, data: Uint8Array) => void, close: () => void, id: string): void;
    readonly requestTimeoutMs?: number;
  }

  function harness(script: Script) {
    const log = new GroupLog(groupId, genesis);
    // Two messages whose previous signatures we never saw: two gaps to repair.
    log.add(entry(signatureOf(10), signatureOf(1)));
    log.add(entry(signatureOf(11), signatureOf(2)));
    const wanted = log.missing().sort();
    const handed: EncryptedGroupMessage[] = [];
    const groups = {
      get: () => ({ log }),
      receiveFromPeer: (_group: string, message: EncryptedGroupMessage, requested: ReadonlySet<string>) => {
        handed.push(message);
        const signature = toHex(message.signature);
        if (!requested.has(signature)) return { kind: 'rejected' };
        log.add(entry(message.signature, genesis), { advanceHead: false });
        return { kind: 'accepted', signature };
      },
      flush: async () => {},
    };
    let close!: () => void;
    const closed = new Promise<void>((resolve) => (close = resolve));
    let requested!: () => void;
    const requestSent = new Promise<void>((resolve) => (requested = resolve));
    const link = {
      onion: member,
      connection: { closed },
      send: (message: PeerMessage): Promise<void> => {
        requested();
        const asked = parseRepairRequest(message.data).signatures;
        setImmediate(() =>
          script.serve(asked, (context, data) => engine.handle(link as unknown as PeerLink, { id: message.id, context, data }), close, message.id),
        );
        return Promise.resolve();
      },
    };
    const engine = new RepairEngine({
      groups: groups as unknown as GroupManager,
      links: { connect: () => Promise.resolve(link) } as unknown as PeerLinks,
      self: Identity.generate().onion,
      requestTimeoutMs: script.requestTimeoutMs ?? 600_000,
      mayServe: () => true,
      candidates: () => [member],
    });
    return { engine, handed, wanted, link: link as unknown as PeerLink, requestSent };
  }

  const end = (reply: (context: string, data: Uint8Array) => void) => reply(PEER_CONTEXT.groupSyncEnd, new Uint8Array(0));
  const nothingRepaired = (outcome: RepairOutcome, wanted: readonly string[]) => {
    expect(outcome.repaired).toEqual([]);
    expect(outcome.unrepaired).toEqual(wanted);
  };

  it('control: a member answering what was asked fills both gaps', async () => {
    const { engine, wanted } = harness({
      serve: (asked, reply) => {
        for (const s of asked) reply(PEER_CONTEXT.groupSyncMessage, answer(s));
        end(reply);
      },
    });
    const outcome = await engine.repair(groupId);
    expect([...outcome.repaired].sort()).toEqual(wanted);
    expect(outcome.unrepaired).toEqual([]);
  });

  it('more answers than signatures asked for: the whole reply is refused, not even the first answers are used', async () => {
    const { engine, handed, wanted } = harness({
      serve: (asked, reply) => {
        for (const s of [...asked, asked[0]!]) reply(PEER_CONTEXT.groupSyncMessage, answer(s));
        end(reply);
      },
    });
    nothingRepaired(await engine.repair(groupId), wanted);
    expect(handed).toEqual([]);
  });

  it('an answer of the wrong size: the whole reply is refused', async () => {
    const { engine, handed, wanted } = harness({
      serve: (asked, reply) => {
        reply(PEER_CONTEXT.groupSyncMessage, answer(asked[0]!));
        reply(PEER_CONTEXT.groupSyncMessage, answer(asked[1]!).subarray(1));
        end(reply);
      },
    });
    nothingRepaired(await engine.repair(groupId), wanted);
    expect(handed).toEqual([]);
  });

  it('answers and an end from another peer under the request id are ignored', async () => {
    const stranger = { onion: Identity.generate().onion } as unknown as PeerLink;
    let requests = 0;
    const { engine, handed, wanted } = harness({
      serve: (asked, reply, _close, id) => {
        // Only the first request is answered (the engine asks again for what is still missing).
        if (++requests > 1) return end(reply);
        const viaStranger = (context: string, data: Uint8Array) => engine.handle(stranger, { id, context, data });
        for (const s of asked) expect(viaStranger(PEER_CONTEXT.groupSyncMessage, answer(s))).toBe(true);
        expect(viaStranger(PEER_CONTEXT.groupSyncEnd, new Uint8Array(0))).toBe(true);
        reply(PEER_CONTEXT.groupSyncMessage, answer(asked[0]!));
        end(reply);
      },
    });
    const outcome = await engine.repair(groupId);
    expect(handed).toHaveLength(1);
    expect(outcome.repaired).toHaveLength(1);
    expect(outcome.unrepaired).toHaveLength(1);
    expect(wanted).toContain(outcome.repaired[0]);
  });

  it('handle() claims the three repair contexts and nothing else', () => {
    const { engine, link } = harness({ serve: () => {} });
    const message = (context: string): PeerMessage => ({ id: newMessageId(), context, data: new Uint8Array(0) });
    for (const context of [PEER_CONTEXT.groupSyncMessage, PEER_CONTEXT.groupSyncEnd]) expect(engine.handle(link, message(context)), context).toBe(true);
    for (const context of [PEER_CONTEXT.ack, 'im.cwtch.version', '']) expect(engine.handle(link, message(context)), context).toBe(false);
  });

  it('a member that never answers: the request times out and the gaps are reported as possibly withheld', async () => {
    const { engine, wanted } = harness({ serve: () => {}, requestTimeoutMs: 50 });
    const reported: unknown[] = [];
    engine.on('unrepaired', (event) => reported.push(event));
    nothingRepaired(await engine.repair(groupId), wanted);
    expect(reported).toEqual([{ groupId, signatures: wanted, reason: WITHHELD_REASON }]);
    expect(engine.withheld(groupId)).toEqual(wanted);
  });

  it('a link that closes during the request ends it at once (no timeout needed)', async () => {
    const { engine, wanted } = harness({ serve: (_asked, _reply, close) => close() });
    nothingRepaired(await engine.repair(groupId), wanted);
  });

  it('stop() ends a request that is waiting for its answer', async () => {
    const { engine, wanted, requestSent } = harness({ serve: () => {} });
    const run = engine.repair(groupId);
    await requestSent;
    engine.stop();
    nothingRepaired(await run, wanted);
  });
});
