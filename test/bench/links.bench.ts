/**
 * Links between pursuances (issue 18, parts 3–4, the core), figures printed, never asserted:
 *  - checking a role credential (canonical encoding and one ed25519 verify), beside the same
 *    run's raw ed25519 verify: a credential should cost about one signature check;
 *  - an A member sending a task (seal to B's role key, sign the credential, record `link.send`);
 *  - a B member carrying tasks in (the dry run, signing, folding), and a fresh replica replaying
 *    a log of them: per event, beside raw verify (each carries two signatures: the event's and
 *    the credential's);
 *  - B adopting announcements (renewals of one role's key), carried one by one.
 */
import { readFileSync } from 'node:fs';
import { Identity, verifySignature } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, RulesSchema, credentialSignedBy, type LinkParcel } from '@pursuance/pursuance';
import { fmt, printTable, rateOf } from './measure.js';

const TASKS = Number(process.env.LINK_BENCH_TASKS ?? 300);
const DAY = 86_400_000;
let t = 1_800_000_000_000;
const now = (): number => (t += 1000);

function cell(name: string): PursuanceAuthor {
  const { $schema: _schema, ...template } = JSON.parse(readFileSync(new URL('../../rules/templates/activist-cell.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  return PursuanceAuthor.create(Identity.generate(), { name, rules: RulesSchema.parse(template) }, now);
}

/** A and B linked both ways: A's members may create tasks for B's members; each holds the other's keys. */
function linked(): { a: PursuanceAuthor; b: PursuanceAuthor } {
  const a = cell('A');
  const b = cell('B');
  b.openLink({
    offer: a.linkOffer(b.log.id, 'organizer', 7, 'their inbox'),
    name: 'A',
    theyMay: [{ theirRole: 'member', action: 'create', on: 'member' }],
    ourAnchor: 'organizer',
    weSend: [],
    ourInbox: 'our inbox',
  });
  a.openLink({
    offer: b.linkOffer(a.log.id, 'organizer', 7, 'their inbox'),
    name: 'B',
    theyMay: [],
    ourAnchor: 'organizer',
    weSend: [{ ours: 'member', theirs: 'member' }],
    ourInbox: 'our inbox',
  });
  for (const x of a.linkAnnouncements(b.log.id, 7)) {
    try {
      b.carryLinkKeys(x);
    } catch {
      // already held (the anchor B pinned)
    }
  }
  for (const x of b.linkAnnouncements(a.log.id, 7)) {
    try {
      a.carryLinkKeys(x);
    } catch {
      // already held
    }
  }
  return { a, b };
}

/** How long `fn` takes (everything here is synchronous). */
function timed(fn: () => void): { seconds: number } {
  const start = performance.now();
  fn();
  return { seconds: (performance.now() - start) / 1000 };
}

function main(): void {
  const { a, b } = linked();
  const id = Identity.generate();
  const message = new Uint8Array(200);
  const sig = id.sign(message);
  const verify = rateOf('raw ed25519 verify', () => verifySignature(message, sig, id.publicKey));

  const parcels: LinkParcel[] = [];
  const send = timed(() => {
    for (let i = 0; i < TASKS; i++)
      parcels.push(a.sendOverLink(b.log.id, { ours: 'member', theirs: 'member', title: `Task ${i}`, body: 'x'.repeat(300) }).parcel);
  });
  const key = b.log.state().links!.get(a.log.id)!.keys.get('member')!;
  let i = 0;
  const check = rateOf('credential', () => {
    if (!credentialSignedBy(parcels[i++ % parcels.length]!.credential, key.sig)) throw new Error('a credential did not verify');
  });

  const carry = timed(() => {
    for (const p of parcels) b.carryLinkTask(p);
  });
  const tasks = [...b.log.state().tasks.values()].filter((x) => x.origin).length;
  if (tasks !== TASKS) throw new Error(`${tasks} of ${TASKS} tasks were taken in`);
  const events = [...b.log.events()].map((e) => e.bytes);
  const replay = timed(() => {
    const log = new PursuanceLog(b.log.genesis.bytes);
    log.addAll(events);
    log.stateHash();
  });

  // Renewals of A's member key: each a day later, carried one by one.
  const renewals = 30;
  const carryKeys = timed(() => {
    for (let r = 0; r < renewals; r++) {
      t += DAY;
      const x = a.linkAnnouncements(b.log.id, 7).find((y) => y.role === 'member')!;
      b.carryLinkKeys(x);
    }
  });

  const perSec = (n: number, s: number): number => n / s;
  printTable('Links: credentials and tasks across a link (one core)', [
    ['baseline: raw ed25519 verify (node:crypto, same run)', `${fmt(verify.perSecond)} /s`],
    ['check a credential (encode + ed25519 verify)', `${fmt(check.perSecond)} /s = ${fmt((check.perSecond / verify.perSecond) * 100, 1)} % of raw verify`],
    [`A sends ${TASKS} tasks (seal, credential, link.send)`, `${fmt(perSec(TASKS, send.seconds))} /s`],
    [`B carries ${TASKS} tasks in (dry run, sign, fold)`, `${fmt(perSec(TASKS, carry.seconds))} /s`],
    [
      `a fresh replica replays B's log (${fmt(events.length)} events)`,
      `${fmt(perSec(events.length, replay.seconds))} events/s = ${fmt(perSec(events.length, replay.seconds) / verify.perSecond, 2)}x raw verify`,
    ],
    [`B adopts ${renewals} renewals of one key, one by one`, `${fmt(perSec(renewals, carryKeys.seconds))} /s`],
  ]);
}

main();
