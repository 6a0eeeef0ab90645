import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { ActionNotAllowedError, PursuanceAuthor, buildMemberView } from '../src/index.js';
import { clock, joinAs, syncInto, template } from './support/helpers.js';

describe('pursuance core smoke test', () => {
  it('founder creates, invites, assigns, and members read exactly what their roles allow', () => {
    const now = clock();
    const founderId = Identity.generate();
    const aliceId = Identity.generate();
    const bobId = Identity.generate();
    const founder = PursuanceAuthor.create(founderId, { name: 'Cell 7', rules: template('activist-cell') }, now);
    founder.addMember(aliceId.publicKey, { name: 'alice', roles: ['member'] });
    founder.addMember(bobId.publicKey, { name: 'bob', roles: ['member', 'organizer'] });
    const open = founder.createTask({ audience: ['member'], title: 'Print flyers', labels: ['outreach'] });
    const secret = founder.createTask({ audience: ['organizer'], title: 'Meet the lawyer' });

    const alice = joinAs(aliceId, founder.log, now);
    const bob = joinAs(bobId, founder.log, now);
    expect(alice.log.stateHash()).toBe(founder.log.stateHash());
    expect(bob.log.stateHash()).toBe(founder.log.stateHash());

    const aliceView = buildMemberView(alice.log, aliceId);
    expect(aliceView.tasks.get(open.id)?.title).toBe('Print flyers');
    expect(aliceView.tasks.get(secret.id)?.readable).toBe(false);
    expect(aliceView.tasks.get(secret.id)?.title).toBeUndefined();
    const bobView = buildMemberView(bob.log, bobId);
    expect(bobView.tasks.get(secret.id)?.title).toBe('Meet the lawyer');

    alice.setStatus(open.id, 'in-progress');
    alice.comment(open.id, 'on it');
    expect(() => alice.closeTask(open.id)).toThrow(ActionNotAllowedError);
    try {
      alice.closeTask(open.id);
    } catch (err) {
      expect((err as ActionNotAllowedError).message).toContain('no rule grants close on tasks for audience "member"');
    }
    syncInto(founder, alice.log);
    founder.closeTask(open.id, 'done');
    const fv = buildMemberView(founder.log, founderId).tasks.get(open.id)!;
    expect(fv.status).toBe('done');
    expect(fv.comments.map((c) => c.body)).toEqual(['on it']);

    // Removal: keys rotate; alice cannot read later tasks.
    founder.removeMember(aliceId.onion, 'left the city');
    const later = founder.createTask({ audience: ['member'], title: 'After alice' });
    syncInto(alice, founder.log);
    expect(alice.log.stateHash()).toBe(founder.log.stateHash());
    expect(buildMemberView(alice.log, aliceId).tasks.get(later.id)?.readable).toBe(false);
    syncInto(bob, founder.log);
    expect(buildMemberView(bob.log, bobId).tasks.get(later.id)?.title).toBe('After alice');
    expect(founder.log.rejections()).toEqual([]);
  });
});

describe('checking before signing', () => {
  it('never signs an action the rules refuse', async () => {
    const { vi } = await import('vitest');
    const now = clock();
    const founderId = Identity.generate();
    const memberId = Identity.generate();
    const founder = PursuanceAuthor.create(founderId, { name: 'Cell', rules: template('activist-cell') }, now);
    founder.addMember(memberId.publicKey, { roles: ['member'] });
    const task = founder.createTask({ audience: ['member'], title: 'x' });
    const member = joinAs(memberId, founder.log, now);
    const sign = vi.spyOn(memberId, 'sign');
    expect(() => member.closeTask(task.id)).toThrow(ActionNotAllowedError);
    expect(sign).not.toHaveBeenCalled();
    member.comment(task.id, 'allowed');
    expect(sign).toHaveBeenCalledTimes(1);
  });
});
