import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, type SignedEvent } from '@pursuance/pursuance';
import { acceptedInOrder, type EventPick } from '../src/domain/fold-scan.js';
import { forgedRename } from './support/forged.js';
import { activistCellRules as cell } from './support/rules.js';

/** What the scan must give: every accepted event of order() it picks, in that order. */
const naive = (log: PursuanceLog, pick: EventPick): SignedEvent[] =>
  log
    .order()
    .filter((id) => log.isAccepted(id))
    .map((id) => log.event(id)!)
    .filter(pick);

const picks: EventPick[] = [(e) => e.header.kind === 'member.rename' || e.header.kind === 'member.add', (e) => e.header.kind === 'task.create', () => true];

type Step = { by: 0 | 1 | 2; act: 'rename' | 'task' | 'comment' } | { sync: 0 | 1 | 2 } | { forge: true };
const step: fc.Arbitrary<Step> = fc.oneof(
  // A stranger's rename on top of the scanned log: folded, and refused (not a member).
  fc.constant({ forge: true as const }),
  fc.record({ by: fc.constantFrom(0 as const, 1 as const, 2 as const), act: fc.constantFrom('rename' as const, 'task' as const, 'comment' as const) }),
  fc.record({ sync: fc.constantFrom(0 as const, 1 as const, 2 as const) }),
);

describe('acceptedInOrder (a scan of the fold order read on from its last call)', () => {
  it('gives what a walk of the whole order gives after every change, refolds by late concurrent events included (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        let t = 1_900_000_000_000;
        const now = () => (t += 1000);
        const ids = [Identity.generate(), Identity.generate(), Identity.generate()];
        const founder = PursuanceAuthor.create(ids[0]!, { name: 'cell', rules: cell(), founderName: 'Ana' }, now);
        founder.addMember(ids[1]!.publicKey, { name: 'Ben', roles: ['member'] });
        founder.addMember(ids[2]!.publicKey, { name: '__proto__', roles: ['member'] });
        const authors = [founder, ...ids.slice(1).map((id) => new PursuanceAuthor(id, new PursuanceLog(founder.log.genesis.bytes), undefined, now))];
        for (const a of authors.slice(1)) {
          a.log.addAll([...founder.log.events()].map((e) => e.bytes));
          a.refreshKeys();
        }
        // The founder's log is the one scanned; the others write concurrently and sync into it when told.
        const log = founder.log;
        const check = (): void => {
          for (const pick of picks) expect(acceptedInOrder(log, pick).map((e) => e.id)).toEqual(naive(log, pick).map((e) => e.id));
        };
        check();
        const stranger = Identity.generate();
        let strangerSeq = 0;
        for (const s of steps) {
          if ('forge' in s) {
            const forged = forgedRename(stranger, log, ++strangerSeq, now(), 'constructor');
            log.add(forged.bytes);
            expect(log.rejectionOf(forged.id)).toBeDefined();
          } else if ('sync' in s) {
            const from = authors[s.sync]!;
            log.addAll([...from.log.events()].map((e) => e.bytes));
            from.log.addAll([...log.events()].map((e) => e.bytes));
            from.refreshKeys();
          } else {
            const a = authors[s.by]!;
            const tasks = [...a.log.state().tasks.keys()];
            if (s.act === 'rename') a.rename(`name ${t}`);
            else if (s.act === 'task' || tasks.length === 0) a.createTask({ audience: ['member'], title: `t ${t}` });
            else a.comment(tasks[0]!, 'seen');
          }
          check();
        }
      }),
      { numRuns: 25 },
    );
  });
});
