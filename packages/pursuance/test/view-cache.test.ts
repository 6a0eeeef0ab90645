import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { MemberViewCache, PursuanceAuthor, PursuanceLog, buildMemberView, readSnapshot, snapshotAt } from '../src/index.js';
import { Keyring } from '../src/keys.js';
import { clock, joinAs, syncInto, template } from './support/helpers.js';

/** A founder of a new activist cell, on a clock of its own. */
function founded() {
  const now = clock();
  const founderId = Identity.generate();
  return { now, founderId, founder: PursuanceAuthor.create(founderId, { name: 'cell', rules: template('activist-cell') }, now) };
}

/** The incremental member view on the cases a random history reaches only rarely (see also properties.test.ts). */
describe('MemberViewCache', () => {
  it('re-reads what was sealed to a role once a key for it arrives later (a role granted after the task)', () => {
    const now = clock();
    const [founderId, memberId] = [Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(founderId, { name: 'cell', rules: template('activist-cell') }, now);
    founder.addMember(memberId.publicKey, { roles: ['member'] });
    const secret = founder.createTask({ audience: ['organizer'], title: 'Meeting point' });
    const member = joinAs(memberId, founder.log, now);
    const cache = new MemberViewCache(member.keyring);
    expect(cache.current(member.log).tasks.get(secret.id)).toMatchObject({ readable: false });

    founder.assignRole(memberId.onion, 'organizer');
    syncInto(member, founder.log);
    const view = cache.current(member.log);
    expect(view.tasks.get(secret.id)).toMatchObject({ readable: true, title: 'Meeting point' });
    expect(view).toEqual(buildMemberView(member.log, memberId, member.keyring));
  });

  it('reads only the new events when they come after everything already read', () => {
    const { founderId, founder } = founded();
    const cache = new MemberViewCache(founder.keyring);
    cache.current(founder.log);
    for (let i = 0; i < 20; i++) {
      founder.createTask({ audience: ['member'], title: `task ${i}` });
      expect(cache.current(founder.log).tasks.size).toBe(i + 1);
    }
    expect(cache.rebuilds).toBe(1);
    expect(cache.current(founder.log)).toEqual(buildMemberView(founder.log, founderId, founder.keyring));
  });

  it('starts again for another log object (a pursuance reloaded from the store)', () => {
    const { now, founderId, founder } = founded();
    founder.createTask({ audience: ['member'], title: 'one' });
    const cache = new MemberViewCache(founder.keyring);
    cache.current(founder.log);
    const reloaded = joinAs(founderId, founder.log, now).log;
    founder.createTask({ audience: ['member'], title: 'two' });
    // The reloaded copy lacks the second task: reading it must not keep what the first log showed.
    expect(cache.current(reloaded).tasks.size).toBe(1);
    expect(cache.current(founder.log).tasks.size).toBe(2);
    expect(cache.rebuilds).toBe(3);
  });

  it('in slices, starts over when a key arrives during a pause, and returns what another call rebuilt meanwhile, never a view it left', async () => {
    const { now, founderId, founder } = founded();
    const secret = founder.createTask({ audience: ['organizer'], title: 'Meeting point' });
    for (let i = 0; i < 10; i++) founder.createTask({ audience: ['member'], title: `task ${i}` });
    const all = founder.keyring.keyIds().map((id) => founder.keyring.get(id)!);
    const organizer = all.filter((k) => k.role === 'organizer');
    expect(organizer.length).toBeGreaterThan(0);
    for (const meanwhile of ['a key', 'a key and a rebuild by another call'] as const) {
      const keyring = new Keyring();
      for (const k of all) if (k.role !== 'organizer') keyring.add(k);
      const cache = new MemberViewCache(keyring, founderId);
      let pauses = 0;
      const view = await cache.currentInSlices(
        founder.log,
        () => {
          if (pauses++ === 0) {
            for (const k of organizer) keyring.add(k);
            if (meanwhile !== 'a key') cache.current(founder.log);
          }
          return Promise.resolve();
        },
        2,
      );
      expect(pauses, meanwhile).toBeGreaterThanOrEqual(1);
      expect(view.tasks.get(secret.id), meanwhile).toMatchObject({ readable: true, title: 'Meeting point' });
      expect(view, meanwhile).toEqual(buildMemberView(founder.log, founderId, keyring));
      expect(cache.rebuilds, meanwhile).toBe(2);
    }
    // A refold during a pause (a member's event concurrent with most of the log arrives): the
    // order is a new array, and what was read before the pause is compared with it, not trusted.
    const memberId = Identity.generate();
    founder.addMember(memberId.publicKey, { roles: ['member'] });
    const member = joinAs(memberId, founder.log, now);
    for (let i = 0; i < 10; i++) founder.createTask({ audience: ['member'], title: `later ${i}` });
    const concurrent = member.createTask({ audience: ['member'], title: 'from an older copy' });
    const refolding = new MemberViewCache(founder.keyring, founderId);
    const before = founder.log.order();
    let refolded = false;
    const seen = await refolding.currentInSlices(
      founder.log,
      () => {
        if (!refolded) {
          refolded = true;
          founder.log.add(concurrent.bytes);
          expect(founder.log.order()).not.toBe(before);
        }
        return Promise.resolve();
      },
      2,
    );
    expect(seen.tasks.get(concurrent.id)?.title).toBe('from an older copy');
    expect(seen).toEqual(buildMemberView(founder.log, founderId, founder.keyring));

    // Nothing meanwhile: a pause after every second event read, none after the last.
    const plain = new MemberViewCache(founder.keyring, founderId);
    let count = 0;
    await plain.currentInSlices(founder.log, () => Promise.resolve(void count++), 2);
    expect(count).toBe(Math.ceil(founder.log.order().length / 2) - 1);
  });

  it('keeps what it read, past its first thousand events, of a log started from a snapshot (whose order is a new array at every change)', () => {
    const { founderId, founder } = founded();
    founder.createTask({ audience: ['member'], title: 'before the snapshot' });
    const snap = snapshotAt(founder.log, founder.log.heads());
    const joined = new PursuanceLog(founder.log.genesis.bytes, { snapshot: readSnapshot(snap.bytes, snap.hash, snap.pursuance) });
    const cache = new MemberViewCache(founder.keyring, founderId);
    cache.current(joined);
    const orders = new Set<readonly string[]>();
    for (let i = 0; i < 1_100; i++) {
      const task = founder.createTask({ audience: ['member'], title: `task ${i}` });
      expect(joined.add(task.bytes).status).toBe('accepted');
      orders.add(joined.order());
      expect(cache.current(joined).tasks.get(task.id)?.title).toBe(`task ${i}`);
    }
    // Every change gave a new order array, and what was read was compared, never read again.
    expect(orders.size).toBe(1_100);
    expect(cache.rebuilds).toBe(1);
    expect(cache.current(joined)).toEqual(buildMemberView(joined, founderId, founder.keyring));
  });
});
