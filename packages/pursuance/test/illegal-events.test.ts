import { canonicalDecode, canonicalEncode, fromHex, Identity, type CanonicalValue } from '@pursuance/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EventRejectedError,
  MAX_RELAY_BUNDLE,
  MAX_RELAY_MIRRORS,
  PursuanceAuthor,
  PursuanceLog,
  RejectionCode,
  decodeEvent,
  type EventId,
  type SignedEvent,
} from '../src/index.js';
import { collectKeys } from '../src/view.js';
import { makeRotation, makeShare, newRoleKey } from '../src/keys.js';
import { given } from './support/given.js';
import { Network, expectRefused, forge, loadTemplate, rawHeader, sealAs, sealWith, signRaw } from './support/harness.js';
import { clock } from './support/helpers.js';

/**
 * The illegal-event corpus: each event is built by hand (envelope.ts `signEvent`, or raw
 * bytes) where the author API would refuse to make it, delivered to an honest member's log,
 * and must be rejected there with the right code (given the log, when the event arrives, then
 * it is rejected: support/given.ts). Plus a decodeEvent fuzz.
 */
const NAMES = ['ada', 'cora', 'hana', 'hugo', 'hedy', 'tom', 'nora', 'zed'] as const;
type Name = (typeof NAMES)[number];

/** An open-coalition pursuance (rules/templates/open-coalition.json) with a few members and tasks. */
function coalition() {
  const id = Object.fromEntries(NAMES.map((n) => [n, Identity.generate()])) as Record<Name, Identity>;
  const net = Network.create('ada', id.ada, { name: 'City Coalition', rules: loadTemplate('open-coalition') }, clock());
  net.act('ada', (a) => {
    a.addMember(id.cora.publicKey, { name: 'cora', roles: ['coalition', 'coordinator'] });
    a.addMember(id.hana.publicKey, { name: 'hana', roles: ['coalition', 'housing', 'housing-lead'] });
    a.addMember(id.hugo.publicKey, { name: 'hugo', roles: ['coalition', 'housing'] });
    a.addMember(id.hedy.publicKey, { name: 'hedy', roles: ['housing'] });
    a.addMember(id.tom.publicKey, { name: 'tom', roles: ['coalition', 'transit', 'transit-lead'] });
    a.addMember(id.nora.publicKey, { name: 'nora', roles: ['coalition'] });
  });
  for (const n of ['cora', 'hana', 'hugo', 'hedy', 'tom', 'nora'] as const) net.join(n, id[n]);
  const survey = net.act('hugo', (h) => h.createTask({ audience: ['housing'], title: 'Tenant survey' })).id;
  const flyers = net.act('hana', (h) => h.createTask({ audience: ['housing'], title: 'Flyers' })).id;
  const busLanes = net.act('tom', (t) => t.createTask({ audience: ['transit'], title: 'Bus lane map' })).id;
  const rally = net.act('cora', (c) => c.createTask({ audience: ['coalition'], title: 'Joint rally' })).id;
  const ada = net.member('ada');
  return { net, id, ada, survey, flyers, busLanes, rally };
}

const comment = (body: string): CanonicalValue => ({ body });

/** A comment on `task` by `who`, sealed as they would seal it (or as a forger who lacks the key). */
function commentBy(who: PursuanceAuthor, task: EventId, body = 'hello', options: Parameters<typeof forge>[5] = {}): SignedEvent<'task.comment'> {
  const audience = who.log.state().tasks.get(task)!.audience;
  return forge(
    who.identity,
    who.log,
    'task.comment',
    { task: fromHex(task), sealed: sealAs(who.log, who.keyring, 'task.comment', task, comment(body), audience, who.identity) },
    audience,
    options,
  );
}

/** Concatenate byte arrays (into a fresh array). */
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

describe('illegal bytes: never become events', () => {
  const fx = coalition();
  const { ada, id, survey } = fx;
  const hugo = fx.net.member('hugo');
  const valid = commentBy(hugo, survey);

  it('forged signature: BAD_SIGNATURE (log.add reports it invalid, nothing stored)', () => {
    const sig = new Uint8Array(decodeEnvelope(valid.bytes).sig);
    sig[10] = sig[10]! ^ 0x01;
    given(ada.log)
      .whenBytes(canonicalEncode({ event: rawHeader(valid), sig }))
      .thenInvalid(RejectionCode.BAD_SIGNATURE);
  });

  it("someone else's signature on hugo's event: BAD_SIGNATURE", () => {
    given(ada.log)
      .whenBytes(signRaw(id.zed, rawHeader(valid)))
      .thenInvalid(RejectionCode.BAD_SIGNATURE);
  });

  it('tampered content under the original signature: BAD_SIGNATURE', () => {
    const header = rawHeader(valid) as { body: { sealed: { ct: Uint8Array } } };
    header.body.sealed.ct = Uint8Array.from(header.body.sealed.ct, (b, i) => (i === 0 ? b ^ 1 : b));
    given(ada.log)
      .whenBytes(canonicalEncode({ event: header as unknown as CanonicalValue, sig: decodeEnvelope(valid.bytes).sig }))
      .thenInvalid(RejectionCode.BAD_SIGNATURE);
  });

  it.each<[string, (b: Uint8Array) => Uint8Array]>([
    ['truncated bytes', (b) => b.subarray(0, b.length - 1)],
    ['a trailing byte', (b) => cat(b, Uint8Array.of(0))],
    ['empty input', () => new Uint8Array(0)],
    ['not CBOR at all', () => new TextEncoder().encode('{"event":{}}')],
    [
      'envelope keys out of canonical order (non-canonical encoding)',
      (b) => {
        const { event, sig } = decodeEnvelope(b);
        return cat(Uint8Array.of(0xa2), canonicalEncode('event'), canonicalEncode(event), canonicalEncode('sig'), canonicalEncode(sig));
      },
    ],
    [
      'an integer not in its shortest form (non-canonical encoding)',
      (b) => {
        // "v": 1 is 0x61 0x76 0x01; the same value as a one-byte-argument integer is 0x18 0x01.
        const at = indexOf(b, [0x61, 0x76, 0x01]);
        expect(at).toBeGreaterThan(0);
        return cat(b.subarray(0, at + 2), Uint8Array.of(0x18, 0x01), b.subarray(at + 3));
      },
    ],
    ['an event larger than the size limit', () => new Uint8Array(1024 * 1024 + 1)],
  ])('%s: INVALID_ENCODING', (_what, mangle) => {
    given(ada.log).whenBytes(mangle(valid.bytes)).thenInvalid(RejectionCode.INVALID_ENCODING);
  });

  type Header = Record<string, CanonicalValue> & { body: Record<string, CanonicalValue>; parents: Uint8Array[] };
  it.each<[string, (h: Header) => void]>([
    ['an unknown body field', (h) => void (h.body.extra = 1)],
    ['an unknown header field', (h) => void (h.priority = 'high')],
    ['an unknown kind', (h) => void (h.kind = 'task.delete')],
    ['a missing body field', (h) => void delete h.body.sealed],
    ['another envelope version', (h) => void (h.v = 2)],
    ['a 31-byte task id', (h) => void (h.body.task = new Uint8Array(31))],
    ['unsorted parents', (h) => void (h.parents = [new Uint8Array(32).fill(0xff), ...h.parents])],
    ['a negative sequence number', (h) => void (h.seq = -1)],
  ])('%s (properly signed): INVALID_SCHEMA', (_what, change) => {
    const header = rawHeader(valid) as Header;
    change(header);
    given(ada.log).whenBytes(signRaw(id.hugo, header)).thenInvalid(RejectionCode.INVALID_SCHEMA);
  });

  it('an event of another pursuance: WRONG_PURSUANCE', () => {
    const other = PursuanceAuthor.create(id.hugo, { name: 'Elsewhere', rules: loadTemplate('open-coalition') });
    const header = rawHeader(valid);
    header.pursuance = fromHex(other.log.id);
    given(ada.log).whenBytes(signRaw(id.hugo, header)).thenInvalid(RejectionCode.WRONG_PURSUANCE);
  });

  it('a second genesis: INVALID_GENESIS', () => {
    const again = PursuanceAuthor.create(id.ada, { name: 'City Coalition', rules: loadTemplate('open-coalition') });
    given(ada.log).whenBytes(again.log.genesis.bytes).thenInvalid(RejectionCode.INVALID_GENESIS);
  });

  it('a genesis naming a pursuance, or another kind naming none: INVALID_GENESIS', () => {
    const genesis = rawHeader(ada.log.genesis);
    genesis.pursuance = fromHex(ada.log.id);
    given(ada.log).whenBytes(signRaw(id.ada, genesis)).thenInvalid(RejectionCode.INVALID_GENESIS);
    const orphan = rawHeader(valid);
    orphan.pursuance = null;
    given(ada.log).whenBytes(signRaw(id.hugo, orphan)).thenInvalid(RejectionCode.INVALID_GENESIS);
  });
});

describe('illegal events: well-formed, signed, and rejected by the fold', () => {
  it('closing a task outside your audience: DENIED, naming the missing grant', () => {
    const { net, ada, busLanes } = coalition();
    const hugo = net.member('hugo');
    expectRefused(
      () => hugo.closeTask(busLanes, 'done'),
      RejectionCode.DENIED,
      'no rule grants close on tasks for audience "transit" to roles coalition, housing',
    );
    const audience = ['transit'];
    const close = forge(
      hugo.identity,
      hugo.log,
      'task.close',
      { task: fromHex(busLanes), sealed: sealAs(hugo.log, hugo.keyring, 'task.close', busLanes, { to: 'done' }, audience, hugo.identity) },
      audience,
    );
    given(ada.log).when(close).thenRejected(RejectionCode.DENIED, 'no rule grants close on tasks for audience "transit" to roles coalition, housing');
    expect(ada.log.state().tasks.get(busLanes)!.closed).toBe(false);
  });

  it('assigning a role you may not grant: DENIED (missing grant, and a cannot rule with its reason)', () => {
    const { net, id, ada } = coalition();
    const hugo = net.member('hugo');
    const self = forge(id.hugo, hugo.log, 'role.assign', { member: id.hugo.publicKey, role: 'transit', keys: [] });
    given(ada.log).when(self).thenRejected(RejectionCode.DENIED, 'no rule grants assigning role "transit" to roles coalition, housing');
    const hana = net.member('hana');
    const coordinator = forge(id.hana, hana.log, 'role.assign', { member: id.hugo.publicKey, role: 'coordinator', keys: [] });
    given(ada.log)
      .when(coordinator)
      .thenRejected(
        RejectionCode.DENIED,
        "denied by rule: coordinators are appointed by the coalition's founders",
        "coordinators are appointed by the coalition's founders, not by group leads",
      );
    expect(ada.log.state().members.get(id.hugo.onion)!.roles.has('coordinator')).toBe(false);
  });

  it('content sealed to a key its author knew was rotated away: STALE_EPOCH; a concurrent one is fine', () => {
    const { net, id, ada, survey } = coalition();
    const hana = net.member('hana');
    const hugo = net.member('hugo');
    const oldKey = hana.keyring.get(ada.log.state().roles.get('housing')!.epochs.at(-1)!.keyIdHex)!;
    // Hugo writes before he hears of the rotation (built now, delivered later).
    const concurrent = forge(
      id.hugo,
      hugo.log,
      'task.comment',
      { task: fromHex(survey), sealed: sealWith([oldKey], 'task.comment', survey, comment('before'), hugo.log, id.hugo) },
      ['housing'],
    );
    const removal = net.act('hana', (h) => h.removeRole(id.hedy.onion, 'housing'));
    expect(removal.header.body.rotation).not.toBeNull();
    // Hana has seen her own rotation, and still seals to the old key.
    const stale = forge(
      id.hana,
      hana.log,
      'task.comment',
      { task: fromHex(survey), sealed: sealWith([oldKey], 'task.comment', survey, comment('after'), hana.log, id.hana) },
      ['housing'],
    );
    given(ada.log).when(stale).thenRejected(RejectionCode.STALE_EPOCH, 'content sealed to a key of "housing" its author knew had been rotated');
    given(ada.log).when(concurrent).thenAccepted();
    // Arrival order does not matter.
    const other = new PursuanceLog(ada.log.genesis.bytes);
    other.addAll([...ada.log.events()].reverse().map((e) => e.bytes));
    expect(other.rejectionOf(stale.id)?.code).toBe(RejectionCode.STALE_EPOCH);
    expect(other.stateHash()).toBe(ada.log.stateHash());
  });

  it('content under the old key after a holder left without a rotation: STALE_EPOCH until someone rotates', () => {
    const { net, id, ada, survey } = coalition();
    // The coordinator may not rotate the housing key, so expelling hedy leaves it due.
    const expel = net.act('cora', (c) => c.removeMember(id.hedy.onion));
    expect(expel.header.body.rotations).toEqual([]);
    expect(ada.log.state().roles.get('housing')!.rotationDueSince).toBe(expel.id);
    const hugo = net.member('hugo');
    expectRefused(() => hugo.comment(survey, 'x'), RejectionCode.STALE_EPOCH, 'must be rotated after a holder left');
    given(ada.log).when(commentBy(hugo, survey)).thenRejected(RejectionCode.STALE_EPOCH, 'must be rotated after a holder left');
    // The group lead (not a founder) rotates; work resumes, and hedy cannot read it.
    net.act('hana', (h) => h.rotateKeys(['housing']));
    const resumed = net.act('hugo', (h) => h.comment(survey, 'resumed'));
    expect(ada.log.isAccepted(resumed.id)).toBe(true);
    expect(collectKeys(net.member('hedy').log, id.hedy).has(ada.log.state().roles.get('housing')!.epochs.at(-1)!.keyIdHex)).toBe(false);
  });

  it('a key id no rotation introduced: UNKNOWN_KEY (in sealed content and in a share)', () => {
    const { net, id, ada, survey } = coalition();
    const planted = newRoleKey('housing');
    const hugo = net.member('hugo');
    const sealed = forge(
      id.hugo,
      hugo.log,
      'task.comment',
      { task: fromHex(survey), sealed: sealWith([planted], 'task.comment', survey, comment('x'), hugo.log, id.hugo) },
      ['housing'],
    );
    given(ada.log).when(sealed).thenRejected(RejectionCode.UNKNOWN_KEY, 'no rotation introduced this key for "housing"');
    const hana = net.member('hana');
    const share = forge(id.hana, hana.log, 'keys.share', { shares: [makeShare(planted, [id.hugo.publicKey])] });
    given(ada.log).when(share).thenRejected(RejectionCode.UNKNOWN_KEY, 'no rotation introduced this key for "housing"');
    expect(collectKeys(ada.log, id.hugo).has(planted.keyId)).toBe(false);
  });

  it('a lockbox to a non-holder: LOCKBOX_INVALID (rotation, share, and a removal that keeps the removed)', () => {
    const { net, id, ada } = coalition();
    const hana = net.member('hana');
    const state = ada.log.state();
    const holders = [...state.roles.get('housing')!.holders].sort().map((o) => state.members.get(o)!.key);
    const leaky = forge(id.hana, hana.log, 'keys.rotate', { rotations: [makeRotation(newRoleKey('housing'), [...holders, id.tom.publicKey])] });
    // Each forged event goes to its own copy of ada's log: they share hana's next sequence number.
    given(ada.log.events()).when(leaky).thenRejected(RejectionCode.LOCKBOX_INVALID, `${id.tom.onion} may not receive the new key of "housing"`);
    const current = hana.keyring.get(state.roles.get('housing')!.epochs.at(-1)!.keyIdHex)!;
    const share = forge(id.hana, hana.log, 'keys.share', { shares: [makeShare(current, [id.tom.publicKey])] });
    given(ada.log.events()).when(share).thenRejected(RejectionCode.LOCKBOX_INVALID, `${id.tom.onion} may not receive key epoch 0 of "housing"`);
    const keepsHedy = forge(id.hana, hana.log, 'role.remove', {
      member: id.hedy.publicKey,
      role: 'housing',
      rotation: makeRotation(newRoleKey('housing'), holders),
    });
    const { log } = given(ada.log.events());
    given(log).when(keepsHedy).thenRejected(RejectionCode.LOCKBOX_INVALID, `${id.hedy.onion} may not receive the new key of "housing"`);
    expect(log.state().roles.get('housing')!.epochs).toHaveLength(1);
    expect(log.state().members.get(id.hedy.onion)!.roles.has('housing')).toBe(true);
  });

  it('an older key to someone who got a "since-join" role later: LOCKBOX_INVALID (the current key is fine)', () => {
    const { net, id, ada } = coalition();
    net.act('ada', (a) => a.rotateKeys(['housing-lead']));
    net.act('ada', (a) => a.assignRole(id.hugo.onion, 'housing-lead'));
    const epochs = ada.log.state().roles.get('housing-lead')!.epochs;
    expect(epochs).toHaveLength(2);
    const hana = net.member('hana'); // a holder since epoch 0
    const [old, current] = epochs.map((e) => hana.keyring.get(e.keyIdHex)!);
    const leak = forge(id.hana, hana.log, 'keys.share', { shares: [makeShare(old!, [id.hugo.publicKey])] });
    given(ada.log.events()).when(leak).thenRejected(RejectionCode.LOCKBOX_INVALID, `${id.hugo.onion} may not receive key epoch 0 of "housing-lead"`);
    const fine = forge(id.hana, hana.log, 'keys.share', { shares: [makeShare(current!, [id.hugo.publicKey])] });
    given(ada.log.events()).when(fine).thenAccepted();
    const hugoKeys = collectKeys(net.member('hugo').log, id.hugo);
    expect([hugoKeys.has(epochs[0]!.keyIdHex), hugoKeys.has(epochs[1]!.keyIdHex)]).toEqual([false, true]);
  });

  it("a removed member's later event, and an outsider's: NOT_A_MEMBER", () => {
    const { net, id, ada, survey } = coalition();
    net.act('hana', (h) => h.removeRole(id.hedy.onion, 'housing'));
    net.act('cora', (c) => c.removeMember(id.hedy.onion));
    const hedy = net.member('hedy');
    expectRefused(() => hedy.comment(survey, 'x'), RejectionCode.NOT_A_MEMBER);
    given(ada.log)
      .when(forge(id.hedy, hedy.log, 'member.leave', {}))
      .thenRejected(RejectionCode.NOT_A_MEMBER, `${id.hedy.onion} is not a member at this point`);
    given(ada.log)
      .when(forge(id.zed, ada.log, 'member.add', { member: id.zed.publicKey, roles: [], keys: [] }))
      .thenRejected(RejectionCode.NOT_A_MEMBER);
  });

  it("a removed member's concurrent events come after the removal: NOT_A_MEMBER, in every arrival order", () => {
    const { net, id, ada, survey, rally } = coalition();
    const hedy = net.member('hedy');
    // Hedy, offline, comments twice. Nobody sees it before the removal.
    const e1 = commentBy(hedy, survey, 'one');
    const e2 = commentBy(hedy, survey, 'two', { seq: e1.header.seq + 1, parents: [e1.id] });
    // Meanwhile nora (low rank) comments and the coordinator, having seen that, expels hedy.
    // Hedy's e1 outranks nora's comment, so a plain linearisation would apply e1 first.
    net.act('nora', (n) => n.comment(rally, 'count me in'));
    const removal = net.act('cora', (c) => c.removeMember(id.hedy.onion));
    const all = [...ada.log.events()].map((e) => e.bytes);
    const orders = [[...all, e1.bytes, e2.bytes], [e1.bytes, e2.bytes, ...all].reverse(), [...all.slice(0, 5), e1.bytes, ...all.slice(5), e2.bytes]];
    const hashes = new Set<string>();
    for (const order of orders) {
      const log = new PursuanceLog(ada.log.genesis.bytes);
      log.addAll(order);
      expect(log.isAccepted(removal.id)).toBe(true);
      expect(log.rejectionOf(e1.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
      expect(log.rejectionOf(e2.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
      expect(log.order().indexOf(removal.id)).toBeLessThan(log.order().indexOf(e1.id));
      hashes.add(log.stateHash());
    }
    expect(hashes.size).toBe(1);
  });

  it('equivocation: two events with one author and sequence number are both rejected and reported', () => {
    const { net, id, ada, survey } = coalition();
    const hugo = net.member('hugo');
    const a = commentBy(hugo, survey, 'version A');
    const b = commentBy(hugo, survey, 'version B');
    expect(a.header.seq).toBe(b.header.seq);
    expect(ada.log.add(a.bytes).status).toBe('accepted');
    ada.log.add(b.bytes);
    given(ada.log).when(a).thenRejected(RejectionCode.EQUIVOCATION, `signed two events with sequence number ${a.header.seq}`);
    given(ada.log).when(b).thenRejected(RejectionCode.EQUIVOCATION);
    expect(ada.log.equivocations()).toEqual([{ author: id.hugo.onion, seq: a.header.seq, events: [a.id, b.id] }]);
    // Another member, receiving them the other way round, agrees.
    const other = new PursuanceLog(ada.log.genesis.bytes);
    other.addAll([...ada.log.events()].reverse().map((e) => e.bytes));
    expect(other.equivocations().map((q) => [q.author, q.seq, [...q.events].sort()])).toEqual([[id.hugo.onion, a.header.seq, [a.id, b.id].sort()]]);
    expect(other.stateHash()).toBe(ada.log.stateHash());
  });

  it("a sequence gap, or an event that does not descend from its author's previous one: SEQUENCE_GAP", () => {
    const { net, id, ada, survey } = coalition();
    const hugo = net.member('hugo');
    const skip = commentBy(hugo, survey, 'skip', { seq: hugo.log.lastSeq(id.hugo.onion) + 2 });
    given(ada.log)
      .when(skip)
      .thenRejected(RejectionCode.SEQUENCE_GAP, `sequence ${skip.header.seq} does not follow the author's known sequence ${skip.header.seq - 2}`);
    const detached = commentBy(hugo, survey, 'detached', { parents: [ada.log.genesis.id] });
    given(ada.log).when(detached).thenRejected(RejectionCode.SEQUENCE_GAP);
  });

  it('a subtask cycle via task.move: INVALID_STATE', () => {
    const { net, id, ada, survey, flyers } = coalition();
    net.act('hana', (h) => h.moveTask(flyers, survey));
    const hana = net.member('hana');
    expectRefused(() => hana.moveTask(survey, flyers), RejectionCode.INVALID_STATE, 'a task cannot become a subtask of itself or of its own subtasks');
    const cycle = forge(id.hana, hana.log, 'task.move', { task: fromHex(survey), parent: fromHex(flyers) }, ['housing']);
    given(ada.log).when(cycle).thenRejected(RejectionCode.INVALID_STATE, 'a task cannot become a subtask of itself or of its own subtasks');
    const self = forge(id.hugo, net.member('hugo').log, 'task.move', { task: fromHex(survey), parent: fromHex(survey) }, ['housing']);
    given(ada.log).when(self).thenRejected(RejectionCode.INVALID_STATE);
    expect(ada.log.state().tasks.get(survey)!.parent).toBeNull();
    expect(ada.log.state().tasks.get(flyers)!.parent).toBe(survey);
  });
});

describe('mirror relays: illegal lists are refused, any bundle text is plain data', () => {
  /** The coalition on relay "relay-1" (moved there by the coordinator, cora), with mirror "mirror-1" listed. */
  function onRelays() {
    const fx = coalition();
    fx.net.act('cora', (c) => c.moveRelay('relay-1', new Uint8Array(48)));
    fx.net.act('cora', (c) => c.addMirror('mirror-1'));
    return { ...fx, cora: fx.net.member('cora') };
  }
  const add = (by: PursuanceAuthor, bundle: string) => forge(by.identity, by.log, 'relay.add', { bundle });
  const drop = (by: PursuanceAuthor, bundle: string) => forge(by.identity, by.log, 'relay.drop', { bundle });

  it('a duplicate add, the relay as its own mirror, a drop of an unlisted mirror or of the relay, an add by someone who may not move the relay', () => {
    const { net, ada, cora } = onRelays();
    // Each forged event goes to its own copy of ada's log: they share cora's next sequence number.
    given(ada.log.events()).when(add(cora, 'mirror-1')).thenRejected(RejectionCode.INVALID_STATE, 'that relay is already a mirror');
    given(ada.log.events()).when(add(cora, 'relay-1')).thenRejected(RejectionCode.INVALID_STATE, 'that bundle is the relay itself, not a mirror');
    given(ada.log.events()).when(drop(cora, 'mirror-2')).thenRejected(RejectionCode.UNKNOWN_TARGET, 'that relay is not a listed mirror');
    given(ada.log.events()).when(drop(cora, 'relay-1')).thenRejected(RejectionCode.INVALID_STATE, 'which cannot be dropped: move instead');
    given(ada.log.events())
      .when(add(net.member('nora'), 'mirror-2'))
      .thenRejected(RejectionCode.DENIED, 'no rule grants moving the relay to roles coalition');
    given(ada.log.events())
      .when(drop(net.member('hana'), 'mirror-1'))
      .thenRejected(RejectionCode.DENIED, 'no rule grants moving the relay to roles coalition, housing, housing-lead');
    // The author refuses each of them before signing, with the same code.
    expectRefused(() => cora.addMirror('mirror-1'), RejectionCode.INVALID_STATE, 'already a mirror');
    expectRefused(() => cora.dropMirror('relay-1'), RejectionCode.INVALID_STATE, 'move instead');
    expectRefused(() => cora.dropMirror('mirror-2'), RejectionCode.UNKNOWN_TARGET);
    expect(ada.log.state().relay).toMatchObject({ bundle: 'relay-1', mirrors: ['mirror-1'] });
  });

  it(`one mirror more than ${MAX_RELAY_MIRRORS}: INVALID_STATE; after a drop there is room again`, () => {
    const { ada, cora } = onRelays();
    for (let i = 2; i <= MAX_RELAY_MIRRORS; i++) cora.addMirror(`mirror-${i}`);
    expect(cora.log.state().relay.mirrors).toHaveLength(MAX_RELAY_MIRRORS);
    const { log } = given(cora.log.events());
    given(log).when(add(cora, 'mirror-9')).thenRejected(RejectionCode.INVALID_STATE, `at most ${MAX_RELAY_MIRRORS} mirror relays`);
    expectRefused(() => cora.addMirror('mirror-9'), RejectionCode.INVALID_STATE, 'drop one first');
    cora.dropMirror('mirror-4');
    cora.addMirror('mirror-9');
    ada.log.addAll([...cora.log.events()].map((e) => e.bytes));
    expect(ada.log.state().relay.mirrors).toEqual(['mirror-1', 'mirror-2', 'mirror-3', 'mirror-5', 'mirror-6', 'mirror-7', 'mirror-8', 'mirror-9']);
  });

  it('an empty bundle, one of 4097 characters, a non-string, an invite list on an add (properly signed): INVALID_SCHEMA; 4096 characters are fine', () => {
    const { ada, cora, id } = onRelays();
    const valid = add(cora, 'mirror-2');
    for (const kind of ['relay.add', 'relay.drop'] as const) {
      for (const change of [
        (b: Record<string, CanonicalValue>) => void (b.bundle = ''),
        (b: Record<string, CanonicalValue>) => void (b.bundle = 'x'.repeat(MAX_RELAY_BUNDLE + 1)),
        (b: Record<string, CanonicalValue>) => void (b.bundle = 7),
        (b: Record<string, CanonicalValue>) => void (b.bundle = ['mirror-2']),
        (b: Record<string, CanonicalValue>) => void delete b.bundle,
        (b: Record<string, CanonicalValue>) => void (b.invites = []),
      ]) {
        const header = rawHeader(valid) as Record<string, CanonicalValue> & { body: Record<string, CanonicalValue> };
        header.kind = kind;
        change(header.body);
        given(ada.log).whenBytes(signRaw(id.cora, header)).thenInvalid(RejectionCode.INVALID_SCHEMA);
      }
    }
    expectRefused(() => cora.addMirror(''), RejectionCode.INVALID_SCHEMA, 'the relay bundle');
    expectRefused(() => cora.dropMirror('x'.repeat(MAX_RELAY_BUNDLE + 1)), RejectionCode.INVALID_SCHEMA, 'the relay bundle');
    const longest = 'x'.repeat(MAX_RELAY_BUNDLE);
    given(ada.log.events()).when(add(cora, longest)).thenAccepted();
  });

  it('prototype names as bundles ("__proto__", "constructor"…): listed, dropped and moved to like any text, on every replica alike', () => {
    const { net, ada, cora } = onRelays();
    const names = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf'];
    for (const name of names) net.act('cora', (c) => c.addMirror(name));
    net.act('cora', (c) => c.dropMirror('constructor'));
    net.act('cora', (c) => c.moveRelay('__proto__', new Uint8Array(48)));
    given(ada.log.events()).when(add(cora, 'toString')).thenRejected(RejectionCode.INVALID_STATE, 'already a mirror');
    given(ada.log.events()).when(drop(cora, '__proto__')).thenRejected(RejectionCode.INVALID_STATE, 'move instead');
    const relay = ada.log.state().relay;
    expect(relay.bundle).toBe('__proto__');
    expect(relay.mirrors).toEqual(['mirror-1', 'hasOwnProperty', 'toString', 'valueOf']);
    expect(Object.getPrototypeOf(relay)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(relay.mirrors)).toBe(Array.prototype);
    // Another member, given the events the other way round, agrees.
    const other = new PursuanceLog(ada.log.genesis.bytes);
    other.addAll([...ada.log.events()].reverse().map((e) => e.bytes));
    expect(other.state().relay).toEqual(relay);
    expect(other.stateHash()).toBe(ada.log.stateHash());
    expect(net.stateHashes().size).toBe(1);
  });
});

describe('content rules, checked by every reader alike', () => {
  it('sealed content bound to another task or kind: rejected in the view, changing nothing', () => {
    const { net, id, survey, flyers } = coalition();
    const hugo = net.member('hugo');
    // A comment sealed for flyers, replayed onto survey; a comment's content under a status event.
    const moved = forge(
      id.hugo,
      hugo.log,
      'task.comment',
      { task: fromHex(survey), sealed: sealAs(hugo.log, hugo.keyring, 'task.comment', flyers, comment('replayed'), ['housing'], hugo.identity) },
      ['housing'],
    );
    hugo.log.add(moved);
    const rekinded = forge(
      id.hugo,
      hugo.log,
      'task.status',
      { task: fromHex(survey), sealed: sealAs(hugo.log, hugo.keyring, 'task.comment', survey, comment('not a status'), ['housing'], hugo.identity) },
      ['housing'],
    );
    hugo.log.add(rekinded);
    net.sync();
    expect(net.member('ada').log.isAccepted(moved.id)).toBe(true); // the public layer cannot see inside
    for (const reader of ['ada', 'hana', 'hugo', 'hedy']) {
      const view = net.view(reader);
      expect(view.contentRejections).toEqual([
        { eventId: moved.id, code: RejectionCode.INVALID_SCHEMA, reason: 'sealed content is bound to another event kind or task' },
        { eventId: rekinded.id, code: RejectionCode.INVALID_SCHEMA, reason: 'sealed content is bound to another event kind or task' },
      ]);
      expect(view.tasks.get(survey)!.comments).toEqual([]);
      expect(view.tasks.get(flyers)!.comments).toEqual([]);
      expect(view.tasks.get(survey)!.status).toBe('proposal');
    }
  });

  it('an invalid workflow transition: content rejection INVALID_STATE, identical for every reader', () => {
    const { net, survey } = coalition();
    // The author refuses both before signing (what a replica's reader would reject)…
    expectRefused(() => net.member('hugo').setStatus(survey, 'blocked'), RejectionCode.INVALID_STATE, 'no transition from "proposal" to "blocked"');
    expectRefused(() => net.member('hugo').setStatus(survey, 'done'), RejectionCode.INVALID_STATE, 'close the task instead');
    // …so a client that skips the check publishes them by hand.
    const hugo = net.member('hugo');
    const status = (to: string): SignedEvent => {
      const e = forge(
        hugo.identity,
        hugo.log,
        'task.status',
        { task: fromHex(survey), sealed: sealAs(hugo.log, hugo.keyring, 'task.status', survey, { to }, ['housing'], hugo.identity) },
        ['housing'],
      );
      hugo.log.add(e);
      return e;
    };
    const skip = net.act('hugo', () => status('blocked')); // proposal -> blocked is not a transition
    const closing = net.act('hugo', () => status('done')); // closed states need task.close
    const ok = net.act('hana', (h) => h.setStatus(survey, 'active'));
    expect(net.member('ada').log.isAccepted(skip.id)).toBe(true);
    const seen = new Set<string>();
    for (const reader of ['ada', 'hana', 'hugo', 'hedy']) {
      const view = net.view(reader);
      expect(view.contentRejections).toEqual([
        { eventId: skip.id, code: RejectionCode.INVALID_STATE, reason: 'the workflow has no transition from "proposal" to "blocked"' },
        { eventId: closing.id, code: RejectionCode.INVALID_STATE, reason: '"done" is a closed state: close the task instead' },
      ]);
      expect(view.tasks.get(survey)!.status).toBe('active');
      expect(view.tasks.get(survey)!.history.map((h) => h.id)).toContain(ok.id);
      seen.add(JSON.stringify(view.contentRejections));
    }
    expect(seen.size).toBe(1);
    // Someone outside the audience sees the structure only, and judges nothing.
    const tom = net.view('tom');
    expect(tom.contentRejections).toEqual([]);
    expect(tom.tasks.get(survey)).toMatchObject({ readable: false });
    expect(tom.tasks.get(survey)!.status).toBeUndefined();
  });
});

describe('decodeEvent fuzz', () => {
  const { net, id, ada, survey } = coalition();
  net.act('hana', (h) => h.removeRole(id.hedy.onion, 'housing'));
  net.act('cora', (c) => c.moveRelay('relay-2', new Uint8Array(48)));
  net.act('cora', (c) => c.addMirror('mirror-2'));
  net.act('cora', (c) => c.dropMirror('mirror-2'));
  net.act('hugo', (h) => h.comment(survey, 'a comment to mutate'));
  const bases = [...ada.log.events()].map((e) => e.bytes);
  const kinds = new Set([...ada.log.events()].map((e) => e.header.kind));

  const mutation = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 32 }) }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

  function mutate(input: Uint8Array, m: Mutation): Uint8Array {
    const at = input.length === 0 ? 0 : m.at % input.length;
    switch (m.op) {
      case 'flip': {
        const out = input.slice();
        out[at] = (out[at] ?? 0) ^ (1 << m.bit);
        return out;
      }
      case 'set': {
        const out = input.slice();
        if (out.length > 0) out[at] = m.value;
        return out;
      }
      case 'delete':
        return cat(input.subarray(0, at), input.subarray(at + m.len));
      case 'insert':
        return cat(input.subarray(0, at), m.bytes, input.subarray(at));
      case 'truncate':
        return input.subarray(0, at);
      case 'duplicate':
        return cat(input.subarray(0, at + m.len), input.subarray(at));
    }
  }

  it('20,000 mutated valid encodings: each decodes to the very same event or throws EventRejectedError', () => {
    expect(kinds.size).toBeGreaterThanOrEqual(6);
    const codes = new Map<string, number>();
    let runs = 0;
    fc.assert(
      fc.property(fc.nat({ max: bases.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (which, mutations) => {
        runs++;
        const original = bases[which]!;
        const bytes = mutations.reduce(mutate, original);
        let outcome: string;
        try {
          const e = decodeEvent(bytes);
          // Whatever still verifies must be the untouched event: no mutation yields another valid one.
          expect(Buffer.from(e.bytes).equals(Buffer.from(original))).toBe(true);
          outcome = 'decoded';
        } catch (err) {
          if (!(err instanceof EventRejectedError)) throw err;
          expect(Object.values(RejectionCode)).toContain(err.code);
          outcome = err.code;
        }
        codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
      }),
      { numRuns: 20_000 },
    );
    expect(runs).toBeGreaterThanOrEqual(20_000);
    // The fuzz reaches every layer: the CBOR decoder, the schemas, and the signature check.
    for (const code of [RejectionCode.INVALID_ENCODING, RejectionCode.INVALID_SCHEMA, RejectionCode.BAD_SIGNATURE]) {
      expect(codes.get(code) ?? 0, `${code} in ${JSON.stringify([...codes])}`).toBeGreaterThan(0);
    }
  });

  it('mutated values re-encoded canonically (so they pass the CBOR layer) are rejected by schema or signature', () => {
    const leaf = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -1000, max: 2 ** 40 }),
      fc.string({ maxLength: 12 }),
      fc.uint8Array({ maxLength: 40 }),
    );
    const value: fc.Arbitrary<CanonicalValue> = fc.oneof(
      leaf,
      fc.array(leaf, { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 6 }), leaf, { maxKeys: 3 }),
    );
    fc.assert(
      fc.property(fc.nat({ max: bases.length - 1 }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), value, (which, path, replacement) => {
        const envelope = canonicalDecode(bases[which]!);
        if (!replaceAt(envelope, path, replacement)) return;
        const bytes = canonicalEncode(envelope);
        if (Buffer.from(bytes).equals(Buffer.from(bases[which]!))) return;
        try {
          decodeEvent(bytes);
        } catch (err) {
          if (err instanceof EventRejectedError) return;
          throw err;
        }
        throw new Error('a changed event decoded');
      }),
      { numRuns: 3000 },
    );
  });

  it('the log never throws on mutated bytes either', () => {
    const log = new PursuanceLog(ada.log.genesis.bytes);
    const hash = log.stateHash();
    fc.assert(
      fc.property(fc.nat({ max: bases.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 2 }), (which, mutations) => {
        const bytes = mutations.reduce(mutate, bases[which]!);
        const result = log.add(bytes);
        expect(['invalid', 'duplicate', 'queued', 'pending', 'accepted', 'rejected']).toContain(result.status);
        if (result.status !== 'invalid') expect(Buffer.from(bytes).equals(Buffer.from(bases[which]!))).toBe(true);
      }),
      { numRuns: 2000 },
    );
    expect(log.size).toBeLessThanOrEqual(bases.length);
    if (log.size === 1) expect(log.stateHash()).toBe(hash);
  });
});

function decodeEnvelope(bytes: Uint8Array): { event: CanonicalValue; sig: Uint8Array } {
  return canonicalDecode(bytes) as { event: CanonicalValue; sig: Uint8Array };
}

function indexOf(haystack: Uint8Array, needle: readonly number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Replace the node reached by following `path` (indices taken modulo each container's size). */
function replaceAt(root: CanonicalValue, path: readonly number[], replacement: CanonicalValue): boolean {
  let node = root;
  for (let depth = 0; depth < path.length; depth++) {
    const container = node as Record<string, CanonicalValue> | CanonicalValue[];
    if (container === null || typeof container !== 'object' || container instanceof Uint8Array) return false;
    const keys = Array.isArray(container) ? container.map((_, i) => i) : Object.keys(container);
    if (keys.length === 0) return false;
    const key = keys[path[depth]! % keys.length]!;
    const child = (container as Record<string | number, CanonicalValue>)[key]!;
    const last = depth === path.length - 1 || child === null || typeof child !== 'object' || child instanceof Uint8Array;
    if (last) {
      (container as Record<string | number, CanonicalValue>)[key] = replacement;
      return true;
    }
    node = child;
  }
  return false;
}
