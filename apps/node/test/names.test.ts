import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog } from '@pursuance/pursuance';
import { namesOf } from '../src/domain/read-models.js';
import type { PursuanceEntry } from '../src/domain/registry.js';
import { forgedRename } from './support/forged.js';
import { activistCellRules as cell } from './support/rules.js';

describe('display names, read on from the last change', () => {
  it("take a member's own renames, prototype names included, and never a stranger's forged one", () => {
    let t = 1_900_000_000_000;
    const now = () => (t += 1000);
    const founderId = Identity.generate();
    const memberId = Identity.generate();
    const founder = PursuanceAuthor.create(founderId, { name: 'cell', rules: cell(), founderName: 'Ana' }, now);
    founder.addMember(memberId.publicKey, { name: 'Ben', roles: ['member'] });
    const member = new PursuanceAuthor(memberId, new PursuanceLog(founder.log.genesis.bytes), undefined, now);
    member.log.addAll([...founder.log.events()].map((e) => e.bytes));
    const log = founder.log;
    let version = 0;
    // A new version at every ask, as the registry bumps it at every change.
    const names = () => namesOf({ log, version: ++version } as unknown as PursuanceEntry);
    expect(names().get(memberId.onion)).toBe('Ben');

    for (const name of ['__proto__', 'constructor']) {
      log.addAll([member.rename(name).bytes]);
      expect(names().get(memberId.onion)).toBe(name);
    }
    // A stranger's rename, signed by them, after everything: refused, and no name for them.
    const stranger = Identity.generate();
    const forged = forgedRename(stranger, log, 1, now(), 'hasOwnProperty');
    log.add(forged.bytes);
    expect(log.isAccepted(forged.id)).toBe(false);
    const after = names();
    expect(after.has(stranger.onion)).toBe(false);
    expect(after.get(memberId.onion)).toBe('constructor');
    expect(after.get(founderId.onion)).toBe('Ana');
  });
});
