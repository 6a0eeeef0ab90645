import { describe, expect, it } from 'vitest';
import { Identity, type CanonicalValue } from '@pursuance/crypto';
import {
  ActionNotAllowedError,
  PursuanceAuthor,
  PursuanceLog,
  RejectionCode,
  decodeEvent,
  displayNameProblem,
  EventRejectedError,
  type SignedEvent,
} from '../src/index.js';
import { forge, rawHeader, signRaw } from './support/harness.js';
import { clock, joinAs, syncInto, template } from './support/helpers.js';

/**
 * member.rename: a member sets their own display name. The body names no member, so it can
 * only apply to its author; only a current member may send it; the name is a display name
 * (trimmed, 1–120 characters, no line breaks, controls or text-direction overrides).
 */

function setup() {
  const now = clock();
  const [f, a, b, stranger] = [Identity.generate(), Identity.generate(), Identity.generate(), Identity.generate()];
  const founder = PursuanceAuthor.create(f, { name: 'cell', rules: template('activist-cell'), founderName: 'Fran' }, now);
  founder.addMember(a.publicKey, { name: 'chosen by Fran', roles: ['member'] });
  founder.addMember(b.publicKey, { roles: ['member'] });
  return { now, f, a, b, stranger, founder };
}

const nameOf = (log: PursuanceLog, onion: string) => log.state().members.get(onion as never)?.name;

/** The bytes of a rename by `by` whose body is exactly `body` (signed by hand: no schema on the way). */
function renameBytes(by: Identity, log: PursuanceLog, body: CanonicalValue): Uint8Array {
  const header = rawHeader(forge(by, log, 'member.rename', { name: 'placeholder' }));
  header.body = body;
  return signRaw(by, header);
}

describe('the founder’s name at creation', () => {
  it('is carried in the genesis and stands in the state (and its hash) on every replica', () => {
    const { f, a, founder } = setup();
    expect(founder.log.genesis.header.body.members).toEqual([expect.objectContaining({ name: 'Fran' })]);
    expect(nameOf(founder.log, f.onion)).toBe('Fran');
    const replica = joinAs(a, founder.log, clock());
    expect(nameOf(replica.log, f.onion)).toBe('Fran');
    expect(replica.log.stateHash()).toBe(founder.log.stateHash());
  });

  it('is absent when none is given, and an unsafe one is refused before anything is signed', () => {
    const plain = PursuanceAuthor.create(Identity.generate(), { name: 'cell', rules: template('activist-cell') });
    expect(plain.log.genesis.header.body.members[0]).not.toHaveProperty('name');
    for (const bad of ['', ' Fran', 'Fran\n', '\u202Enarf']) {
      const err = (() => {
        try {
          PursuanceAuthor.create(Identity.generate(), { name: 'cell', rules: template('activist-cell'), founderName: bad });
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err, JSON.stringify(bad)).toBeInstanceOf(ActionNotAllowedError);
      expect((err as ActionNotAllowedError).code).toBe(RejectionCode.INVALID_SCHEMA);
    }
  });
});

describe('member.rename', () => {
  it('renames its author only, replacing the name the adder chose, on every replica', () => {
    const { now, f, a, b, founder } = setup();
    const alice = joinAs(a, founder.log, now);
    const before = new Map([...alice.log.state().members].map(([o, m]) => [o, m.name]));
    const e = alice.rename('Alice');
    expect(alice.log.isAccepted(e.id)).toBe(true);
    expect(nameOf(alice.log, a.onion)).toBe('Alice');
    // Nobody else's name moved.
    for (const [onion, name] of before) if (onion !== a.onion) expect(nameOf(alice.log, onion)).toBe(name);
    expect(nameOf(alice.log, f.onion)).toBe('Fran');
    expect(nameOf(alice.log, b.onion)).toBeUndefined();
    syncInto(founder, alice.log);
    expect(nameOf(founder.log, a.onion)).toBe('Alice');
    expect(founder.log.stateHash()).toBe(alice.log.stateHash());
    // A later rename wins over the earlier one; the same name again is harmless and accepted.
    const again = alice.rename('Alice B.');
    const same = alice.rename('Alice B.');
    expect([alice.log.isAccepted(again.id), alice.log.isAccepted(same.id)]).toEqual([true, true]);
    expect(nameOf(alice.log, a.onion)).toBe('Alice B.');
  });

  it('changes the state hash: a name is part of what members agree on', () => {
    const { now, a, founder } = setup();
    const alice = joinAs(a, founder.log, now);
    const hash = alice.log.stateHash();
    alice.rename('Alice');
    expect(alice.log.stateHash()).not.toBe(hash);
  });

  it('stores prototype names as plain values: "__proto__" and "constructor" are names like any other', () => {
    const { now, a, b, founder } = setup();
    const alice = joinAs(a, founder.log, now);
    const bob = joinAs(b, founder.log, now);
    alice.rename('__proto__');
    bob.rename('constructor');
    syncInto(founder, alice.log);
    syncInto(founder, bob.log);
    expect(nameOf(founder.log, a.onion)).toBe('__proto__');
    expect(nameOf(founder.log, b.onion)).toBe('constructor');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(founder.log.state().members.get(a.onion)!)).toBe(Object.prototype);
    const fresh = new PursuanceLog(founder.log.genesis.bytes);
    fresh.addAll([...founder.log.events()].map((e) => e.bytes));
    expect(fresh.stateHash()).toBe(founder.log.stateHash());
  });

  it('is refused from someone who never was a member, with a reason', () => {
    const { stranger, founder } = setup();
    const forged = forge(stranger, founder.log, 'member.rename', { name: 'Mallory' });
    founder.log.add(forged);
    expect(founder.log.rejectionOf(forged.id)).toMatchObject({ code: RejectionCode.NOT_A_MEMBER, reason: expect.stringContaining('not a member') });
    expect(founder.log.state().members.has(stranger.onion)).toBe(false);
    expect([...founder.log.state().members.values()].map((m) => m.name)).not.toContain('Mallory');
  });

  it('is refused from a removed member, whether the removal was seen or concurrent, in every arrival order', () => {
    const { now, a, founder } = setup();
    const base = [...founder.log.events()];
    const alice = joinAs(a, founder.log, now);
    alice.rename('Alice');
    // Concurrent: Alice renames on her stale replica while the founder removes her.
    const concurrent = alice.rename('Alice again');
    const removal = founder.removeMember(a.onion);
    // After the removal, seen: a rename signed on top of it by hand (the author API refuses it).
    syncInto(alice, founder.log);
    const late = forge(a, alice.log, 'member.rename', { name: 'Still here' });
    expect(() => alice.rename('Still here')).toThrow(ActionNotAllowedError);
    const events: SignedEvent[] = [...alice.log.events()].filter((e) => !base.some((x) => x.id === e.id));
    events.push(late);
    const orders = [events, [...events].reverse(), [removal, late, concurrent, ...events]];
    const hashes = new Set<string>();
    for (const order of orders) {
      const log = new PursuanceLog(founder.log.genesis.bytes);
      log.addAll(base.map((e) => e.bytes));
      log.addAll(order.map((e) => e.bytes));
      expect(log.isAccepted(removal.id)).toBe(true);
      expect(log.rejectionOf(concurrent.id)).toMatchObject({ code: RejectionCode.NOT_A_MEMBER, reason: expect.stringContaining('not a member') });
      expect(log.rejectionOf(late.id)).toMatchObject({ code: RejectionCode.NOT_A_MEMBER });
      expect(log.state().members.has(a.onion)).toBe(false);
      hashes.add(log.stateHash());
    }
    expect(hashes.size).toBe(1);
  });

  it('must be public: a rename with an audience is INVALID_SCHEMA', () => {
    const { now, a, founder } = setup();
    const alice = joinAs(a, founder.log, now);
    const e = forge(a, alice.log, 'member.rename', { name: 'Alice' }, ['member']);
    alice.log.add(e);
    expect(alice.log.rejectionOf(e.id)?.code).toBe(RejectionCode.INVALID_SCHEMA);
    expect(nameOf(alice.log, a.onion)).toBe('chosen by Fran');
  });
});

describe('hostile names', () => {
  const HOSTILE: [string, CanonicalValue][] = [
    ['empty', ''],
    ['only spaces', '   '],
    ['leading space', ' Alice'],
    ['trailing space', 'Alice '],
    ['a line break', 'Ali\nce'],
    ['a carriage return', 'Ali\rce'],
    ['a line separator', 'Ali\u2028ce'],
    ['a NUL', 'Ali\u0000ce'],
    ['an escape', 'Ali\u001b[31mce'],
    ['a right-to-left override', 'Alice\u202Egpj.exe'],
    ['a left-to-right embedding', '\u202AAlice'],
    ['a first-strong isolate', 'Alice\u2068x'],
    ['a pop directional isolate', 'Alice\u2069'],
    ['121 characters', 'x'.repeat(121)],
    ['not a string', 42],
    ['null', null],
  ];

  it.each(HOSTILE)('%s: the event is INVALID_SCHEMA, never stored, the name unchanged', (_what, name) => {
    const { now, a, founder } = setup();
    const alice = joinAs(a, founder.log, now);
    const bytes = renameBytes(a, alice.log, { name });
    expect(() => decodeEvent(bytes)).toThrow(EventRejectedError);
    const result = alice.log.add(bytes);
    expect(result.status).toBe('invalid');
    expect(result.rejection?.code).toBe(RejectionCode.INVALID_SCHEMA);
    expect(nameOf(alice.log, a.onion)).toBe('chosen by Fran');
    if (typeof name === 'string') {
      expect(() => alice.rename(name)).toThrow(expect.objectContaining({ code: RejectionCode.INVALID_SCHEMA }));
      expect(alice.log.lastSeq(a.onion)).toBe(0);
    }
  });

  it('a body naming another member, or with any field besides the name, is INVALID_SCHEMA', () => {
    const { now, a, b, founder } = setup();
    const alice = joinAs(a, founder.log, now);
    for (const body of [{ name: 'Bob', member: b.publicKey }, { name: 'Alice', extra: 1 }, {}]) {
      const result = alice.log.add(renameBytes(a, alice.log, body as CanonicalValue));
      expect(result.rejection?.code).toBe(RejectionCode.INVALID_SCHEMA);
    }
    expect(nameOf(alice.log, b.onion)).toBeUndefined();
  });

  it('accepts names in any script, emoji and right-to-left text without overrides, up to 120 characters', () => {
    const { now, a, founder } = setup();
    const alice = joinAs(a, founder.log, now);
    for (const name of ['Zoë 🌻', 'أليس', '李小龙', 'A', '🌻'.repeat(120), 'Ana María (she/her)']) {
      const e = alice.rename(name);
      expect(alice.log.isAccepted(e.id), name).toBe(true);
      expect(nameOf(alice.log, a.onion)).toBe(name);
    }
  });

  it('displayNameProblem: lone surrogates and paragraph separators are refused too', () => {
    expect(displayNameProblem('Ali\uD800ce')).not.toBeNull();
    expect(displayNameProblem('Ali\u2029ce')).not.toBeNull();
    expect(displayNameProblem('x'.repeat(120))).toBeNull();
  });
});
