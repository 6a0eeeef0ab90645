// Tests added because a mutation run (npm run mutate -- pursuance) showed these checks could be
// removed or weakened with every other test still passing.
import { randomBytes } from 'node:crypto';
import { Identity, openFromIdentity, type CanonicalValue, type SignatureVerifier } from '@pursuance/crypto';
import { describe, expect, it } from 'vitest';
import { EventRejectedError, PursuanceAuthor, PursuanceLog, RejectionCode, decodeEvent, type SignedEvent } from '../src/index.js';
import { makeRotation, makeShare, newRoleKey } from '../src/keys.js';
import { expectRefused, forge, loadTemplate, rawHeader, sealAs, signRaw } from './support/harness.js';
import { clock } from './support/helpers.js';

/** The code decodeEvent refuses `bytes` with (it must refuse). */
function refusal(bytes: Uint8Array, verifier?: SignatureVerifier): RejectionCode {
  try {
    decodeEvent(bytes, verifier);
  } catch (err) {
    expect(err).toBeInstanceOf(EventRejectedError);
    return (err as EventRejectedError).code;
  }
  throw new Error('decodeEvent accepted the event');
}

describe('decodeEvent: order, uniqueness and the signature verifier', () => {
  const founder = Identity.generate();
  const author = PursuanceAuthor.create(founder, { name: 'Envelope cell', rules: loadTemplate('activist-cell') });
  author.addMember(Identity.generate().publicKey, { name: 'mo', roles: ['member'] });
  const task = author.createTask({ audience: ['member', 'organizer'], title: 'Two-role task' });
  type Header = Record<string, CanonicalValue> & { audience: string[]; parents: Uint8Array[] };
  const header = (): Header => rawHeader(task) as Header;

  it('controls: the event as signed decodes, and so does the same header re-signed by hand', () => {
    expect(header().audience).toEqual(['member', 'organizer']);
    expect(decodeEvent(task.bytes).id).toBe(task.id);
    expect(decodeEvent(signRaw(founder, header())).header.audience).toEqual(['member', 'organizer']);
  });

  it('an audience out of order or with a role twice (properly signed): INVALID_SCHEMA', () => {
    for (const audience of [
      ['organizer', 'member'],
      ['member', 'member'],
      ['member', 'member', 'organizer'],
    ]) {
      const h = header();
      h.audience = audience;
      expect(refusal(signRaw(founder, h)), audience.join(',')).toBe(RejectionCode.INVALID_SCHEMA);
    }
  });

  it('a parent named twice (properly signed): INVALID_SCHEMA', () => {
    const h = header();
    expect(h.parents.length).toBeGreaterThan(0);
    h.parents = [h.parents[0]!, h.parents[0]!];
    expect(refusal(signRaw(founder, h))).toBe(RejectionCode.INVALID_SCHEMA);
  });

  it('a verifier that throws counts as a signature that does not verify (BAD_SIGNATURE), never as a pass', () => {
    const throwing: SignatureVerifier = {
      name: 'throws',
      verify: () => {
        throw new Error('backend failure');
      },
    };
    expect(refusal(task.bytes, throwing)).toBe(RejectionCode.BAD_SIGNATURE);
    // The verifier passed in is the one used: one that approves everything lets the event through.
    expect(decodeEvent(task.bytes, { name: 'approves', verify: () => true }).id).toBe(task.id);
  });
});

/**
 * Membership, role and key checks of the fold, each fed one hand-signed event (forge: what a
 * client skipping the dry run would publish) on top of a small activist cell: founder, an
 * organizer, two members.
 */
describe('the fold refuses membership, role and key events that break a rule', () => {
  function cell() {
    const id = { founder: Identity.generate(), org: Identity.generate(), m1: Identity.generate(), m2: Identity.generate(), stranger: Identity.generate() };
    const author = PursuanceAuthor.create(id.founder, { name: 'Rule cell', rules: loadTemplate('activist-cell') });
    author.addMember(id.org.publicKey, { name: 'org', roles: ['organizer'] });
    author.addMember(id.m1.publicKey, { name: 'm1', roles: ['member'] });
    author.addMember(id.m2.publicKey, { name: 'm2', roles: ['member'] });
    return { id, author, log: author.log };
  }
  /** The fold's verdict on `e` in `log`: its rejection code, or 'accepted'. */
  function verdict(log: PursuanceLog, e: SignedEvent): string {
    log.add(e.bytes);
    if (log.isAccepted(e.id)) return 'accepted';
    return log.rejectionOf(e.id)?.code ?? 'not judged';
  }
  const box = (to: Identity) => ({ to: to.publicKey, box: new Uint8Array(randomBytes(64)) });
  const currentKeyId = (log: PursuanceLog, role: string) => log.state().roles.get(role)!.epochs.at(-1)!.keyId;

  it('adding someone who already is a member: INVALID_STATE', () => {
    const { id, log } = cell();
    expect(verdict(log, forge(id.founder, log, 'member.add', { member: id.m1.publicKey, roles: [], keys: [] }))).toBe(RejectionCode.INVALID_STATE);
  });

  it('removing someone who is not a member: UNKNOWN_TARGET; removing a founder: INVALID_STATE', () => {
    const { id, log } = cell();
    expect(verdict(log, forge(id.founder, log, 'member.remove', { member: id.stranger.publicKey, rotations: [] }))).toBe(RejectionCode.UNKNOWN_TARGET);
    expect(verdict(log, forge(id.org, log, 'member.remove', { member: id.founder.publicKey, rotations: [] }))).toBe(RejectionCode.INVALID_STATE);
    expect(log.state().members.has(id.founder.onion)).toBe(true);
  });

  it("a removal's re-keyed group invite goes to members who stay: to them it is accepted, to the removed one or a stranger refused", () => {
    for (const [to, expected] of [
      ['m1', 'accepted'],
      ['m2', RejectionCode.LOCKBOX_INVALID],
      ['stranger', RejectionCode.LOCKBOX_INVALID],
    ] as const) {
      const { id, log } = cell();
      const removal = forge(id.founder, log, 'member.remove', { member: id.m2.publicKey, rotations: [], invites: [box(id.org), box(id[to])] });
      expect(verdict(log, removal), to).toBe(expected);
    }
  });

  it('assigning a role to someone who is not a member: UNKNOWN_TARGET; a role the member holds: INVALID_STATE', () => {
    const { id, log } = cell();
    expect(verdict(log, forge(id.founder, log, 'role.assign', { member: id.stranger.publicKey, role: 'member', keys: [] }))).toBe(RejectionCode.UNKNOWN_TARGET);
    expect(verdict(log, forge(id.founder, log, 'role.assign', { member: id.m1.publicKey, role: 'member', keys: [] }))).toBe(RejectionCode.INVALID_STATE);
  });

  it('removing a role with a rotation of another role: LOCKBOX_INVALID', () => {
    const { id, log } = cell();
    const rotation = makeRotation(newRoleKey('organizer'), [id.founder.publicKey, id.org.publicKey]);
    expect(verdict(log, forge(id.founder, log, 'role.remove', { member: id.m1.publicKey, role: 'member', rotation }))).toBe(RejectionCode.LOCKBOX_INVALID);
  });

  it('after a role is removed without a rotation, new content sealed to the key the removed holder knows is STALE_EPOCH', () => {
    const { id, author, log } = cell();
    expect(verdict(log, forge(id.founder, log, 'role.remove', { member: id.m1.publicKey, role: 'member', rotation: null }))).toBe('accepted');
    const sealed = sealAs(log, author.keyring, 'task.create', null, { title: 'after the removal' }, ['member'], id.founder);
    expect(verdict(log, forge(id.founder, log, 'task.create', { parent: null, sealed }, ['member']))).toBe(RejectionCode.STALE_EPOCH);
  });

  it('rotations: two lockboxes for one member, two rotations of one role, or a key id used before: LOCKBOX_INVALID', () => {
    const { id, log } = cell();
    const holders = [id.founder.publicKey, id.m1.publicKey, id.m2.publicKey];
    const twice = makeRotation(newRoleKey('member'), [...holders, id.m1.publicKey]);
    expect(verdict(log, forge(id.founder, log, 'keys.rotate', { rotations: [twice] }))).toBe(RejectionCode.LOCKBOX_INVALID);
    const two = [makeRotation(newRoleKey('member'), holders), makeRotation(newRoleKey('member'), holders)];
    expect(verdict(log, forge(id.founder, log, 'keys.rotate', { rotations: two }))).toBe(RejectionCode.LOCKBOX_INVALID);
    const reused = { ...makeRotation(newRoleKey('member'), holders), keyId: currentKeyId(log, 'member') };
    expect(verdict(log, forge(id.founder, log, 'keys.rotate', { rotations: [reused] }))).toBe(RejectionCode.LOCKBOX_INVALID);
    // The control: the same rotation with a fresh key id and one lockbox each is accepted.
    expect(verdict(log, forge(id.founder, log, 'keys.rotate', { rotations: [makeRotation(newRoleKey('member'), holders)] }))).toBe('accepted');
  });

  it('a member who neither holds a role nor may rotate its keys cannot share its key: DENIED', () => {
    const { id, log } = cell();
    const share = { ...makeShare(newRoleKey('organizer'), [id.org.publicKey]), keyId: currentKeyId(log, 'organizer') };
    expect(verdict(log, forge(id.m1, log, 'keys.share', { shares: [share] }))).toBe(RejectionCode.DENIED);
    // An organizer may rotate every role's keys, so it may share the member key it does not hold.
    const memberShare = { ...makeShare(newRoleKey('member'), [id.m1.publicKey]), keyId: currentKeyId(log, 'member') };
    expect(log.state().members.get(id.org.onion)!.roles.has('member')).toBe(false);
    expect(verdict(log, forge(id.org, log, 'keys.share', { shares: [memberShare] }))).toBe('accepted');
  });

  it('a founder may leave while another founder stays; the last founder may not (INVALID_STATE)', () => {
    const first = Identity.generate();
    const second = Identity.generate();
    const author = PursuanceAuthor.create(first, { name: 'Two founders', rules: loadTemplate('activist-cell'), cofounders: [second.publicKey] });
    const log = author.log;
    expect(verdict(log, forge(first, log, 'member.leave', {}))).toBe('accepted');
    expect(verdict(log, forge(second, log, 'member.leave', {}))).toBe(RejectionCode.INVALID_STATE);
    expect([...log.state().founders]).toEqual([second.onion]);
  });

  it('a key share is recorded: its recipients count as knowing the current key', () => {
    const { id, log } = cell();
    const current = log.state().roles.get('member')!.epochs.at(-1)!;
    expect([...current.recipients]).toEqual(expect.arrayContaining([id.m1.onion, id.m2.onion]));
  });

  it('task content must be sealed to exactly the audience roles (in any order), once each: LOCKBOX_INVALID otherwise', () => {
    const { id, author, log } = cell();
    const create = (sealedFor: string[], audience: string[], reorder = false) => {
      const sealed = sealAs(log, author.keyring, 'task.create', null, { title: 'sealed' }, sealedFor, id.founder);
      return forge(id.founder, log, 'task.create', { parent: null, sealed: reorder ? { ...sealed, keys: [...sealed.keys].reverse() } : sealed }, audience);
    };
    expect(verdict(log, create(['member', 'organizer'], ['member']))).toBe(RejectionCode.LOCKBOX_INVALID);
    expect(verdict(log, create(['organizer'], ['member']))).toBe(RejectionCode.LOCKBOX_INVALID);
    expect(verdict(log, create(['member'], ['member', 'organizer']))).toBe(RejectionCode.LOCKBOX_INVALID);
    // One role twice instead of each audience role once.
    const both = sealAs(log, author.keyring, 'task.create', null, { title: 'sealed' }, ['member', 'organizer'], id.founder);
    const doubled = { ...both, keys: [both.keys[0]!, both.keys[0]!] };
    expect(verdict(log, forge(id.founder, log, 'task.create', { parent: null, sealed: doubled }, ['member', 'organizer']))).toBe(RejectionCode.LOCKBOX_INVALID);
    expect(verdict(log, create(['member', 'organizer'], ['member', 'organizer'], true))).toBe('accepted');
  });

  it("whoever made a role's current key knows it: removing them makes the role due for rotation, though they never held it", () => {
    const { id, author, log } = cell();
    const holders = [id.founder.publicKey, id.m1.publicKey, id.m2.publicKey];
    expect(verdict(log, forge(id.founder, log, 'keys.rotate', { rotations: [makeRotation(newRoleKey('member'), holders)] }))).toBe('accepted');
    // The organizer may rotate the member key without holding the role: it made (knows) the third key.
    expect(verdict(log, forge(id.org, log, 'keys.rotate', { rotations: [makeRotation(newRoleKey('member'), holders)] }))).toBe('accepted');
    expect(log.state().roles.get('member')!.epochs).toHaveLength(3);
    expect(verdict(log, forge(id.founder, log, 'member.remove', { member: id.org.publicKey, rotations: [] }))).toBe('accepted');
    const sealed = sealAs(log, author.keyring, 'task.create', null, { title: 'after the removal' }, ['member'], id.founder);
    expect(verdict(log, forge(id.founder, log, 'task.create', { parent: null, sealed }, ['member']))).toBe(RejectionCode.STALE_EPOCH);
  });

  it('an older key of a since-join role goes only to holders who held the role in its epoch', () => {
    const { id, log } = cell();
    const m3 = Identity.generate();
    const rotate = () => forge(id.founder, log, 'keys.rotate', { rotations: [makeRotation(newRoleKey('member'), [id.founder.publicKey])] });
    expect(verdict(log, rotate())).toBe('accepted');
    expect(verdict(log, forge(id.founder, log, 'member.add', { member: m3.publicKey, roles: ['member'], keys: [] }))).toBe('accepted');
    expect(verdict(log, rotate())).toBe('accepted');
    const [e0, e1] = log.state().roles.get('member')!.epochs;
    const shareOf = (keyId: Uint8Array) => forge(id.founder, log, 'keys.share', { shares: [{ ...makeShare(newRoleKey('member'), [m3.publicKey]), keyId }] });
    // m3 got the role while the second key was current: it may have that one, not the first.
    expect(verdict(log, shareOf(e1!.keyId))).toBe('accepted');
    expect(verdict(log, shareOf(e0!.keyId))).toBe(RejectionCode.LOCKBOX_INVALID);
  });

  it('an event that is not about a task with a non-empty audience: INVALID_SCHEMA', () => {
    const { id, log } = cell();
    expect(verdict(log, forge(id.m1, log, 'member.leave', {}, ['member']))).toBe(RejectionCode.INVALID_SCHEMA);
  });

  it('an event object of a kind outside the kind list (handed over, never decoded): INVALID_SCHEMA, Object.prototype names included', () => {
    const { id, log } = cell();
    const leave = forge(id.m1, log, 'member.leave', {});
    for (const kind of ['member.promote', 'constructor', 'toString']) {
      const copy = new PursuanceLog(log.genesis.bytes);
      copy.addAll([...log.events()].map((e) => e.bytes));
      const odd = { ...leave, header: { ...leave.header, kind } } as unknown as SignedEvent;
      copy.add(odd);
      expect(copy.rejectionOf(odd.id)?.code, kind).toBe(RejectionCode.INVALID_SCHEMA);
    }
  });
});

describe('succession: founder activity after a nomination', () => {
  const DAY = 86_400_000;
  it('restarts the quiet period: witnesses dated before its new end do not count, and do after it', () => {
    const id = { f1: Identity.generate(), f2: Identity.generate(), p: Identity.generate(), w1: Identity.generate(), w2: Identity.generate() };
    const now = clock();
    const f1 = PursuanceAuthor.create(id.f1, { name: 'Coalition', rules: loadTemplate('open-coalition'), cofounders: [id.f2.publicKey] }, now);
    for (const n of ['p', 'w1', 'w2'] as const) f1.addMember(id[n].publicKey, { name: n, roles: ['coalition'] });
    const nomination = f1.nominateFounder(id.p.onion);
    let t = now();
    const later = (): number => (t += 1000);
    const log = new PursuanceLog(f1.log.genesis.bytes);
    log.addAll([...f1.log.events()].map((e) => e.bytes));
    const as = (who: Identity) => new PursuanceAuthor(who, log, undefined, later);
    t += 50 * DAY;
    as(id.f2).createTask({ audience: ['coalition'], title: 'a founder, still here' });
    // 91 days after the nomination, but only 41 after the founder's last event.
    t += 41 * DAY;
    as(id.w1).createTask({ audience: ['coalition'], title: 'quiet?' });
    as(id.w2).createTask({ audience: ['coalition'], title: 'quiet.' });
    expectRefused(() => as(id.p).claimNomination(nomination.id), RejectionCode.INVALID_STATE, 'needs events from 2 other members');
    t += 50 * DAY;
    as(id.w1).createTask({ audience: ['coalition'], title: 'really quiet' });
    as(id.w2).createTask({ audience: ['coalition'], title: 'really quiet.' });
    const claim = as(id.p).claimNomination(nomination.id);
    expect(log.isAccepted(claim.id)).toBe(true);
  });
});

describe('PursuanceLog.add results and dryRun', () => {
  function cell() {
    const founder = Identity.generate();
    const member = Identity.generate();
    const author = PursuanceAuthor.create(founder, { name: 'Log cell', rules: loadTemplate('activist-cell') });
    author.addMember(member.publicKey, { name: 'mo', roles: ['member'] });
    return { founder, member, author, log: author.log };
  }

  it('reports a duplicate as such, a second genesis as INVALID_GENESIS and an event of another pursuance as WRONG_PURSUANCE', () => {
    const { founder, author, log } = cell();
    expect(log.add(author.log.genesis.bytes)).toEqual({ status: 'duplicate', id: log.genesis.id });
    const other = PursuanceAuthor.create(founder, { name: 'Elsewhere', rules: loadTemplate('activist-cell') });
    expect(log.add(other.log.genesis.bytes).rejection?.code).toBe(RejectionCode.INVALID_GENESIS);
    const foreign = other.addMember(Identity.generate().publicKey, { name: 'x', roles: [] });
    expect(log.add(foreign.bytes).rejection?.code).toBe(RejectionCode.WRONG_PURSUANCE);
  });

  it('refuses a non-genesis event without parents (INVALID_SCHEMA), never stores it', () => {
    const { member, log } = cell();
    const orphan = forge(member, log, 'member.leave', {}, [], { parents: [] });
    const result = log.add(orphan.bytes);
    expect(result.status).toBe('invalid');
    expect(result.rejection?.code).toBe(RejectionCode.INVALID_SCHEMA);
    expect(log.event(orphan.id)).toBeUndefined();
  });

  it('an event concurrent with the last one is queued for the next fold, then accepted', () => {
    const { founder, member, log } = cell();
    const heads = log.heads();
    const first = forge(founder, log, 'member.add', { member: Identity.generate().publicKey, roles: [], keys: [] });
    expect(log.add(first.bytes).status).toBe('accepted');
    const concurrent = forge(member, log, 'member.leave', {}, [], { parents: heads });
    expect(log.add(concurrent.bytes)).toEqual({ status: 'queued', id: concurrent.id });
    expect(log.isAccepted(concurrent.id)).toBe(true);
  });

  it('dryRun: null for an event that would be accepted; the code a replica would give otherwise', () => {
    const { founder, member, author, log } = cell();
    const fine = forge(member, log, 'member.leave', {});
    expect(log.dryRun(fine)).toBeNull();
    const other = PursuanceAuthor.create(founder, { name: 'Elsewhere', rules: loadTemplate('activist-cell') });
    expect(log.dryRun(forge(founder, other.log, 'member.leave', {}))?.code).toBe(RejectionCode.WRONG_PURSUANCE);
    const unknownParent = forge(member, log, 'member.leave', {}, [], { parents: [...log.heads(), '00'.repeat(32) as never].sort() });
    expect(log.dryRun(unknownParent)?.code).toBe(RejectionCode.SEQUENCE_GAP);
    // The founder's next sequence number, reused on top of the same parents as an accepted event: equivocation.
    const heads = log.heads();
    const taken = author.createTask({ audience: ['member'], title: 'first' });
    const sibling = forge(founder, log, 'member.add', { member: Identity.generate().publicKey, roles: [], keys: [] }, [], {
      seq: taken.header.seq,
      parents: heads,
    });
    expect(log.dryRun(sibling)?.code).toBe(RejectionCode.EQUIVOCATION);
  });
});

describe('the author: strangers, undeclared roles, group invites and history keys', () => {
  function cell() {
    const founder = Identity.generate();
    const author = PursuanceAuthor.create(founder, { name: 'Author cell', rules: loadTemplate('activist-cell') }, clock());
    const members = Array.from({ length: 3 }, () => Identity.generate());
    for (const m of members) author.addMember(m.publicKey, { roles: ['member'] });
    return { founder, author, members };
  }
  const refusedWith = (fn: () => unknown, code: RejectionCode): void => {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect((caught as { code?: unknown } | undefined)?.code, String(caught)).toBe(code);
    expect((caught as Error).name).toBe('ActionNotAllowedError');
  };

  it('refuses a stranger or an undeclared role with a typed error before signing, never a TypeError', () => {
    const { author, members } = cell();
    const stranger = Identity.generate().onion;
    const size = author.log.size;
    refusedWith(() => author.assignRole(stranger, 'member'), RejectionCode.UNKNOWN_TARGET);
    refusedWith(() => author.removeRole(stranger, 'member'), RejectionCode.UNKNOWN_TARGET);
    refusedWith(() => author.removeRole(members[0]!.onion, 'nope'), RejectionCode.UNKNOWN_TARGET);
    for (const role of ['nope', 'constructor']) refusedWith(() => author.rotateKeys([role]), RejectionCode.UNKNOWN_TARGET);
    expect(author.log.size).toBe(size);
  });

  it('a removal carries its reason and the re-keyed group invite sealed to each member who stays, in onion order, none to the one removed', () => {
    const { founder, author, members } = cell();
    const invite = new TextEncoder().encode('group invite text');
    const removed = members[1]!;
    const removal = author.removeMember(removed.onion, 'moved away', invite);
    expect(removal.header.body.reason).toBe('moved away');
    const stay = [founder, members[0]!, members[2]!].sort((a, b) => (a.onion < b.onion ? -1 : 1));
    const invites = removal.header.body.invites ?? [];
    expect(invites.map((lb) => Buffer.from(lb.to).toString('hex'))).toEqual(stay.map((m) => Buffer.from(m.publicKey).toString('hex')));
    for (const [i, m] of stay.entries()) expect(new TextDecoder().decode(openFromIdentity(m, invites[i]!.box))).toBe('group invite text');
    expect(() => openFromIdentity(removed, invites[0]!.box)).toThrow();
  });

  it('assigning a role whose history is "all" hands over its older keys too; one with since-join history only the current key', () => {
    const { author, members } = cell();
    author.rotateKeys(['organizer', 'member']);
    const organizer = author.assignRole(members[0]!.onion, 'organizer');
    expect(organizer.header.body.keys.map((s) => s.role)).toEqual(['organizer', 'organizer']);
    const epochs = author.state.roles.get('organizer')!.epochs.map((e) => Buffer.from(e.keyId).toString('hex'));
    expect(organizer.header.body.keys.map((s) => Buffer.from(s.keyId).toString('hex')).sort()).toEqual([...epochs].sort());
  });
});
