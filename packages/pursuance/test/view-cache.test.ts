import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { MemberViewCache, PursuanceAuthor, PursuanceLog, buildMemberView, readSnapshot, snapshotAt } from '../src/index.js';
import { clock, joinAs, syncInto, template } from './support/helpers.js';

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
    const now = clock();
    const founderId = Identity.generate();
    const founder = PursuanceAuthor.create(founderId, { name: 'cell', rules: template('activist-cell') }, now);
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
    const now = clock();
    const founderId = Identity.generate();
    const founder = PursuanceAuthor.create(founderId, { name: 'cell', rules: template('activist-cell') }, now);
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

  it('keeps what it read, past its first thousand events, of a log started from a snapshot (whose order is a new array at every change)', () => {
    const now = clock();
    const founderId = Identity.generate();
    const founder = PursuanceAuthor.create(founderId, { name: 'cell', rules: template('activist-cell') }, now);
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
