import { describe, expect, it } from 'vitest';
import { CanonicalMemo, Identity } from '@pursuance/crypto';
import { PursuanceAuthor, type EventId } from '../src/index.js';
import { PublicEntries, publicStateValue, stateHash, type TaskState } from '../src/state.js';
import { clock, template } from './support/helpers.js';

describe('the state hash from kept task entries (PublicEntries with a CanonicalMemo)', () => {
  it('equals a hash from scratch whatever happens to the tasks: changed in place, replaced, added, dropped, or swapped for others', () => {
    const now = clock();
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'c', rules: template('activist-cell') }, now);
    const ids = Array.from({ length: 20 }, (_, i) => founder.createTask({ audience: ['organizer'], title: `t${i}` }).id);
    // A throwaway log: its state is changed here as a fold (or a refold) would change it.
    const state = founder.log.state();
    const tasks = state.tasks;
    const entries = new PublicEntries();
    const memo = new CanonicalMemo();
    const logHash = new Uint8Array(32);
    const seen = new Set<string>();
    const check = (what: string) => {
      const kept = stateHash(publicStateValue(state, logHash, [], [], entries), memo);
      expect(kept, what).toBe(stateHash(publicStateValue(state, logHash, [], [])));
      // Every step below changes the state: a hash seen before would be one that missed it.
      expect(seen.has(kept), what).toBe(false);
      seen.add(kept);
    };
    check('as folded');
    const mutable = (id: EventId) => tasks.get(id)! as { -readonly [K in keyof TaskState]: TaskState[K] };
    mutable(ids[3]!).closed = true;
    check('closed in place');
    mutable(ids[4]!).parent = ids[5]!;
    check('moved under another in place');
    tasks.set(ids[6]!, { ...tasks.get(ids[6]!)!, audience: ['member'] });
    check('replaced with another audience');
    // Role names are checked by the rules, not here: a prototype's name is a name like any other.
    for (const role of ['constructor', '__proto__']) {
      tasks.set(ids[6]!, { ...tasks.get(ids[6]!)!, audience: [role] });
      check(`replaced with the audience "${role}"`);
    }
    tasks.set(ids[7]!, { ...tasks.get(ids[7]!)!, staleKey: true });
    check('marked as sealed to a stale key');
    tasks.set(ids[8]!, { ...tasks.get(ids[8]!)!, origin: { peer: 'ab'.repeat(32) as never, role: 'member' } });
    check('sent by a linked pursuance');
    const extra = 'ff'.repeat(32) as EventId;
    tasks.set(extra, { ...tasks.get(ids[9]!)!, id: extra });
    check('one more task, last in order');
    const first = '00'.repeat(32) as EventId;
    tasks.set(first, { ...tasks.get(ids[9]!)!, id: first });
    check('one more task, first in order');
    tasks.delete(ids[10]!);
    check('a task fewer (a refold holding fewer events)');
    const swapped = '11'.repeat(32) as EventId;
    tasks.delete(ids[11]!);
    tasks.set(swapped, { ...tasks.get(ids[12]!)!, id: swapped });
    check('as many tasks, one of them another');
    tasks.clear();
    check('no task at all');
  });
});
