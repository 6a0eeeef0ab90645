import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { PursuanceAuthor } from '../src/index.js';
import { forge } from './support/harness.js';
import { clock, template } from './support/helpers.js';

describe("an author's last sequence (asked at every event a member signs)", () => {
  it('follows each event stored, and steps back when the log takes back its own event the fold refused', () => {
    const now = clock();
    const fId = Identity.generate();
    const founder = PursuanceAuthor.create(fId, { name: 'c', rules: template('activist-cell') }, now);
    const log = founder.log;
    const tasks = Array.from({ length: 5 }, (_, i) => founder.createTask({ audience: ['organizer'], title: `t${i}` }));
    const before = log.lastSeq(fId.onion);
    expect(before).toBe(Math.max(...log.eventsBy(fId.onion).map((e) => e.header.seq)));
    // A comment on a task that does not exist: well formed, signed at the next sequence, refused by the fold.
    const refused = forge(fId, log, 'task.comment', { task: new Uint8Array(32), sealed: tasks[0]!.header.body.sealed }, ['organizer'], { time: now() });
    expect(refused.header.seq).toBe(before + 1);
    const size = log.size;
    expect(log.addOwn(refused)).not.toBeNull();
    expect(log.size).toBe(size);
    expect(log.lastSeq(fId.onion)).toBe(before);
    // The next event takes the sequence the refused one did not keep.
    const next = founder.createTask({ audience: ['organizer'], title: 'after' });
    expect(next.header.seq).toBe(before + 1);
    expect(log.lastSeq(fId.onion)).toBe(before + 1);
  });
});
