/**
 * Join requests (FEDERATION.md §6, case J1), figures printed, never asserted:
 *  - a gatekeeper screening inbox messages before it decrypts anything: drops per second on one
 *    core for messages without the proof of work (the flood J1 is about), and for the other drop
 *    reasons, beside the same run's raw SHA-256 of a buffer the size of a request and raw ed25519
 *    verify (a drop should cost about one hash of the ciphertext, far less than a signature);
 *  - opening a screened request (X25519, unseal, parse, the applicant's ed25519 signature);
 *  - an applicant sealing an honest request at effort 16 and 18 (mean of a few runs: the number
 *    of hashes a search takes is geometric, so single runs scatter widely), beside what 2^effort
 *    hashes take at the same run's raw hash rate;
 *  - vouches (J11): judging one against the links (vouchProblem, one ed25519 verify), and what a
 *    request with only the lowered work costs a gatekeeper to open and judge, beside what that
 *    lowered work costs whoever sends it (the price of a forged vouch).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Identity, canonicalDecode, canonicalEncode, verifySignature } from '@pursuance/crypto';
import {
  PursuanceAuthor,
  RulesSchema,
  hourOf,
  leadingZeroBits,
  openJoinRequest,
  screenRequest,
  sealJoinRequest,
  workDigest,
  vouchProblem,
  vouchedEffort,
  type Profile,
  type RequestMessage,
} from '@pursuance/pursuance';
import { fmt, printTable, rateOf, type Rate } from './measure.js';

const SEAL_RUNS = Number(process.env.JOIN_BENCH_SEAL_RUNS ?? 5);
/** Distinct messages per kind, so no cache or branch predictor sees one message over and over. */
const RING = 256;

let t = 1_800_000_000_000;
const now = (): number => (t += 1000);
const NOW = 1_800_000_000_000;

function fromTemplate(name: string): PursuanceAuthor {
  const { $schema: _schema, ...template } = JSON.parse(readFileSync(new URL(`../../rules/templates/${name}.json`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  return PursuanceAuthor.create(Identity.generate(), { name, rules: RulesSchema.parse(template) }, now);
}
const newsroom = (): PursuanceAuthor => fromTemplate('newsroom');

/** The profile a gatekeeper publishes, with the effort given: the founder holds `tips` and may invite. */
function publish(founder: PursuanceAuthor, effort: number): Profile {
  const e = founder.publishProfile('tips', {
    name: 'The Ledger',
    about: 'City contracts.',
    asks: ['Why?'],
    inbox: 'cwtch-group-invite:bench',
    effort,
    now: NOW,
    days: 7,
  });
  return e.header.body.profile!;
}

function honest(p: Profile, n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => sealJoinRequest(p, Identity.generate(), { name: `Applicant ${i}`, answers: ['x'.repeat(200)] }, NOW).bytes);
}

/** `raw` with a fresh random nonce that carries less work than `effort`: what a flood without work looks like. */
function withoutWork(raw: Uint8Array, effort: number): Uint8Array {
  const m = canonicalDecode(raw) as unknown as RequestMessage;
  for (;;) {
    const n = new Uint8Array(randomBytes(16));
    if (leadingZeroBits(workDigest(m.p, m.h, n, m.ct)) < effort) return canonicalEncode({ v: m.v, t: m.t, p: m.p, h: m.h, n, ct: m.ct });
  }
}

function ring<T>(items: readonly T[], fn: (item: T) => unknown): () => void {
  let i = 0;
  return () => {
    fn(items[i++ % items.length]!);
  };
}

function screening(p: Profile, requests: readonly Uint8Array[], other: readonly Uint8Array[]): [string, string][] {
  const size = requests[0]!.length;
  const buffer = new Uint8Array(randomBytes(size));
  const sha = rateOf('raw SHA-256', () => createHash('sha256').update(buffer).digest());
  const id = Identity.generate();
  const signed = buffer.subarray(0, 200);
  const sig = id.sign(signed);
  const verify = rateOf('raw ed25519 verify', () => verifySignature(signed, sig, id.publicKey));

  const unseen = { profile: p, now: NOW, seen: () => false };
  const seen = { ...unseen, seen: () => true };
  const stale = { ...unseen, now: NOW + 3 * 3_600_000 };
  const noWork = requests.map((r) => withoutWork(r, p.effort));
  const garbage = Array.from({ length: RING }, () => new Uint8Array(randomBytes(size)));
  const check = (label: string, raw: Uint8Array, ctx: typeof unseen, reason: string): void => {
    const s = screenRequest(raw, ctx);
    const got = s.ok ? 'ok' : s.reason;
    if (got !== reason) throw new Error(`${label}: screened as ${got}, not ${reason}`);
  };
  check('no work', noWork[0]!, unseen, 'work');
  check('garbage', garbage[0]!, unseen, 'malformed');
  check('foreign', other[0]!, unseen, 'foreign');
  check('stale', requests[0]!, stale, 'stale');
  check('replay', requests[0]!, seen, 'replay');
  check('honest', requests[0]!, unseen, 'ok');

  const work = rateOf(
    'no work',
    ring(noWork, (raw) => screenRequest(raw, unseen)),
  );
  const rows: [string, Rate][] = [
    [
      'drop: random bytes of that size (malformed)',
      rateOf(
        'malformed',
        ring(garbage, (raw) => screenRequest(raw, unseen)),
      ),
    ],
    [
      'drop: a request to another profile (foreign)',
      rateOf(
        'foreign',
        ring(other, (raw) => screenRequest(raw, unseen)),
      ),
    ],
    [
      'drop: a request dated 3 hours ago (stale)',
      rateOf(
        'stale',
        ring(requests, (raw) => screenRequest(raw, stale)),
      ),
    ],
    [
      'drop: a proof seen before (replay)',
      rateOf(
        'replay',
        ring(requests, (raw) => screenRequest(raw, seen)),
      ),
    ],
    [
      'pass: an honest request, screened',
      rateOf(
        'ok',
        ring(requests, (raw) => screenRequest(raw, unseen)),
      ),
    ],
  ];
  return [
    [`baseline: raw SHA-256 of ${fmt(size)} bytes (node:crypto, same run)`, `${fmt(sha.perSecond)} /s`],
    ['baseline: raw ed25519 verify (node:crypto, same run)', `${fmt(verify.perSecond)} /s`],
    [
      `J1 drop: no proof of work (effort ${p.effort}), on one core`,
      `${fmt(work.perSecond)} drops/s = ${fmt((work.perSecond / sha.perSecond) * 100, 1)} % of raw SHA-256, ${fmt(work.perSecond / verify.perSecond, 1)}x raw verify`,
    ],
    ...rows.map(([label, r]): [string, string] => [label, `${fmt(r.perSecond)} /s`]),
  ];
}

function opening(p: Profile, founder: PursuanceAuthor, requests: readonly Uint8Array[]): [string, string][] {
  const keys = founder.profileKeys();
  if (!keys) throw new Error('the founder holds no key of the profile');
  const messages = requests.map((raw) => {
    const s = screenRequest(raw, { profile: p, now: NOW, seen: () => false });
    if (!s.ok) throw new Error(`an honest request was dropped as ${s.reason}`);
    return s.message;
  });
  const open = rateOf(
    'open',
    ring(messages, (m) => openJoinRequest(p, keys, m)),
  );
  const both = rateOf(
    'screen + open',
    ring(requests, (raw) => {
      const s = screenRequest(raw, { profile: p, now: NOW, seen: () => false });
      if (s.ok) openJoinRequest(p, keys, s.message);
    }),
  );
  return [
    ['open a screened request (X25519, unseal, parse, ed25519 verify)', `${fmt(open.perSecond)} /s`],
    ['screen and open an honest request', `${fmt(both.perSecond)} /s`],
  ];
}

function sealing(founder: PursuanceAuthor): [string, string][] {
  // The hash the search repeats: domain, profile id, hour, nonce, the ciphertext's digest.
  const input = new Uint8Array(randomBytes(21 + 16 + 4 + 16 + 32));
  const hash = rateOf('raw SHA-256 (search input)', () => createHash('sha256').update(input).digest());
  const rows: [string, string][] = [[`baseline: raw SHA-256 of ${input.length} bytes (same run)`, `${fmt(hash.perSecond)} /s`]];
  for (const effort of [16, 18]) {
    const p = publish(founder, effort);
    const runs = Array.from({ length: SEAL_RUNS }, (_, i) => {
      const started = performance.now();
      const sealed = sealJoinRequest(p, Identity.generate(), { name: `Applicant ${i}`, answers: ['x'.repeat(200)] }, NOW);
      const ms = performance.now() - started;
      if (!screenRequest(sealed.bytes, { profile: p, now: NOW, seen: () => false }).ok) throw new Error('a sealed request did not screen');
      return { ms, tries: sealed.tries };
    });
    const mean = runs.reduce((s, r) => s + r.ms, 0) / runs.length;
    const tries = runs.reduce((s, r) => s + r.tries, 0) / runs.length;
    const ms = runs.map((r) => r.ms);
    rows.push([
      `seal an honest request at effort ${effort} (mean of ${runs.length})`,
      `${fmt(mean)} ms (min ${fmt(Math.min(...ms))}, max ${fmt(Math.max(...ms))}), ${fmt(tries)} hashes tried (expected ${fmt(2 ** effort)})`,
    ]);
    rows.push([`  2^${effort} hashes at the raw rate`, `${fmt((2 ** effort / hash.perSecond) * 1000)} ms`]);
  }
  return rows;
}

/** A links B; B lets A's members vouch for applicants its organizers review (as the core's vouch test sets up). */
function vouching(): [string, string][] {
  const a = fromTemplate('activist-cell');
  const b = fromTemplate('activist-cell');
  b.openLink({
    offer: a.linkOffer(b.log.id, 'organizer', 7, 'inbox of A'),
    name: 'A',
    theyMay: [{ theirRole: 'member', action: 'vouch', on: 'organizer' }],
    ourAnchor: 'organizer',
    weSend: [],
    ourInbox: 'ours',
  });
  a.openLink({
    offer: b.linkOffer(a.log.id, 'organizer', 7, 'inbox of B'),
    name: 'B',
    theyMay: [],
    ourAnchor: 'organizer',
    weSend: [{ ours: 'member', theirs: 'member' }],
    ourInbox: 'ours',
  });
  for (const ann of a.linkAnnouncements(b.log.id, 7)) {
    try {
      b.carryLinkKeys(ann);
    } catch {
      // The anchor's own announcement repeats the pinned offer.
    }
  }
  const effort = 18;
  const p = b.publishProfile('organizer', { name: 'B', about: 'x', asks: [], inbox: 'cwtch-group-invite:bench', effort, now: NOW, days: 7 }).header.body
    .profile!;
  const keys = b.profileKeys()!;
  const applicants = Array.from({ length: 32 }, () => Identity.generate());
  const vouches = applicants.map((x) => a.vouch(b.log.id, 'member', x.publicKey));
  const state = b.log.state();
  const judge = rateOf(
    'vouchProblem',
    ring(
      vouches.map((v, i) => [v, applicants[i]!] as const),
      ([v, x]) => {
        if (vouchProblem(state, v, { reviewer: 'organizer', applicant: x.publicKey, hour: v.hour }) !== null) throw new Error('a vouch did not hold');
      },
    ),
  );
  // Requests at the lowered work, as a flood with forged vouches would send them: screened in, then opened and judged.
  const lowered = vouchedEffort(effort);
  const requests = applicants.map((x, i) => sealJoinRequest(p, x, { name: `V${i}`, answers: [], vouch: vouches[i] }, NOW).bytes);
  const openJudge = rateOf(
    'screen + open + judge',
    ring(requests, (raw) => {
      const s = screenRequest(raw, { profile: p, now: NOW, seen: () => false });
      if (!s.ok) throw new Error(`a vouched request was dropped as ${s.reason}`);
      const o = openJoinRequest(p, keys, s.message);
      vouchProblem(state, o.vouch!, { reviewer: 'organizer', applicant: o.from, hour: s.message.h });
    }),
  );
  const input = new Uint8Array(randomBytes(21 + 16 + 4 + 16 + 32));
  const hash = rateOf('raw SHA-256 (search input)', () => createHash('sha256').update(input).digest());
  const msg = new Uint8Array(randomBytes(200));
  const signer = Identity.generate();
  const sig = signer.sign(msg);
  const verify = rateOf('raw ed25519 verify', () => verifySignature(msg, sig, signer.publicKey));
  const senderMs = (2 ** lowered / hash.perSecond) * 1000;
  const gatekeeperMs = 1000 / openJudge.perSecond;
  return [
    ['baseline: raw ed25519 verify (same run)', `${fmt(verify.perSecond)} /s`],
    ['judge a vouch against the links (vouchProblem)', `${fmt(judge.perSecond)} /s = ${fmt((judge.perSecond / verify.perSecond) * 100, 1)} % of raw verify`],
    [
      `screen, open and judge a request with the lowered work (${lowered} of ${effort} bits)`,
      `${fmt(openJudge.perSecond)} /s (${fmt(gatekeeperMs, 3)} ms each)`,
    ],
    [`  its sender's work: 2^${lowered} hashes at the raw rate`, `${fmt(senderMs, 2)} ms: ${fmt(senderMs / gatekeeperMs, 1)}x what it costs the gatekeeper`],
  ];
}

function main(): void {
  process.stdout.write(`join request benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
  const founder = newsroom();
  const other = publish(newsroom(), 8);
  const p = publish(founder, 8);
  const requests = honest(p, RING);
  printTable(`screening before decryption (${fmt(requests[0]!.length)}-byte requests, hour ${hourOf(NOW)})`, screening(p, requests, honest(other, RING)));
  printTable('opening', opening(p, founder, requests));
  printTable('sealing (the applicant’s proof of work)', sealing(founder));
  printTable('vouches (J11)', vouching());
}

main();
