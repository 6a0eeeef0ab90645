import { ROLE_BOX_OVERHEAD, equalBytes, sha256, toHex } from '@pursuance/crypto';
import { LINKS_MAX } from '../bodies.js';
import { CONTENT_PADDING_BUCKET } from '../keys.js';
import type { PursuanceId } from '../envelope.js';
import { RejectionCode } from '../errors.js';
import {
  announcedKeyProblem,
  HOUR_MS,
  announceableKeys,
  credentialHourProblem,
  credentialSignedBy,
  linkOfferProblem,
  receiptSignedBy,
  signedBy,
  validityProblem,
  type Announcement,
  type Receipt,
} from '../link.js';
import { PERMISSION_OF } from '../permissions.js';
import { vouchHourProblem, vouchSignedBy, type Vouch } from '../vouch.js';
import { checkPlain } from '../rules/compile.js';
import type { LinkKey, LinkState, PublicState } from '../state.js';
import { accept, denied, reject, type FoldContext, type Handler, type Outcome } from './context.js';

/**
 * Links to other pursuances (link.ts says what is announced and signed). Opening or closing a
 * link decides what outsiders may do here, so it takes the right to change the rules. Carrying
 * their announcements in takes nothing but membership: what counts is their anchor's signature,
 * which the fold checks, with every time bound against the carrying event, never a clock.
 */

/** A role and the ids our rules declare, for messages that name an undeclared one. */
function undeclared(ctx: FoldContext, roles: readonly string[]): string | undefined {
  return roles.find((r) => !ctx.declared(r));
}

/** Why an announcement cannot be adopted whoever signed it (null when it can), for the carrying event's time. */
function statementProblem(a: Announcement, state: { readonly id: PursuanceId }, time: number): Outcome | null {
  if (a.to !== state.id) return reject(RejectionCode.WRONG_PURSUANCE, 'the announcement is addressed to another pursuance');
  const key = announcedKeyProblem(a);
  if (key !== null) return reject(RejectionCode.BAD_SIGNATURE, `the announced key is unusable: ${key}`);
  const validity = validityProblem(a.validUntil, time);
  if (validity !== null) return reject(RejectionCode.INVALID_SCHEMA, `the announcement is out of date: ${validity}`);
  return null;
}

const keyOf = (a: Announcement, by: LinkState['openedBy'], anchor: { readonly n: number; readonly sig: Uint8Array }): LinkKey => ({
  n: a.n,
  keyId: a.keyId,
  sig: a.pub.sig,
  box: a.pub.box,
  validUntil: a.validUntil,
  by,
  anchorN: anchor.n,
  signer: anchor.sig,
});

export const linkOpen: Handler<'link.open'> = (ctx, e) => {
  const { state } = ctx;
  const { action, subject } = PERMISSION_OF['link.open'];
  const check = checkPlain(ctx.ability(e.author), ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  const b = e.header.body;
  const anchorOffer = b.offer.anchor;
  const peer = anchorOffer.from as PursuanceId;
  if (peer === state.id) return reject(RejectionCode.INVALID_STATE, 'a pursuance cannot link itself');
  const missing = undeclared(ctx, [b.ourAnchor, ...b.weSend.map((w) => w.ours), ...b.theyMay.map((g) => g.on)]);
  if (missing !== undefined) return reject(RejectionCode.UNKNOWN_TARGET, `role "${missing}" does not exist`);
  if (new Set(b.theyMay.map((g) => `${g.theirRole} ${g.action} ${g.on}`)).size !== b.theyMay.length) {
    return reject(RejectionCode.INVALID_SCHEMA, 'the link grants the same thing twice');
  }
  if (new Set(b.weSend.map((w) => `${w.ours} ${w.theirs}`)).size !== b.weSend.length)
    return reject(RejectionCode.INVALID_SCHEMA, 'the link names a sending pair twice');
  const problem = statementProblem(anchorOffer, state, e.header.time);
  if (problem) return problem;
  // The offer signs itself (its anchor, name and inbox): what a member pins, having checked its key with them out of band.
  const offerProblem = linkOfferProblem(b.offer);
  if (offerProblem !== null) return reject(RejectionCode.BAD_SIGNATURE, offerProblem);
  const links = state.links;
  if (!links?.has(peer) && (links?.size ?? 0) >= LINKS_MAX) return reject(RejectionCode.INVALID_STATE, `a pursuance has at most ${LINKS_MAX} links`);
  const before = links?.get(peer);
  const pinned = keyOf(anchorOffer, e.id, { n: anchorOffer.n, sig: anchorOffer.pub.sig });
  // Opened again on the anchor key that stands (to change the mapping, say): the keys it vouched
  // for still stand, and their side has no reason to announce them again. A frozen link, or
  // another anchor key, starts over from the pin.
  const standing = before && !before.frozen && before.theirAnchor === anchorOffer.role ? before.keys.get(anchorOffer.role) : undefined;
  const keep = standing !== undefined && standing.n === anchorOffer.n && equalBytes(standing.keyId, anchorOffer.keyId);
  const link: LinkState = {
    peer,
    name: b.name,
    openedBy: e.id,
    theirAnchor: anchorOffer.role,
    theirInbox: b.offer.inbox,
    ourInbox: b.ourInbox,
    theyMay: b.theyMay,
    ourAnchor: b.ourAnchor,
    weSend: b.weSend,
    keys: keep
      ? new Map([...before!.keys, [anchorOffer.role, standing.validUntil >= pinned.validUntil ? standing : pinned]])
      : new Map([[anchorOffer.role, pinned]]),
    frozen: null,
    // Opened again (or after a close): a credential taken in before is still spent.
    seen: new Set([...(links?.get(peer)?.seen ?? []), ...(state.closedNonces?.get(peer) ?? [])]),
  };
  return accept(() => {
    state.links ??= new Map();
    state.links.set(peer, link);
    state.closedNonces?.delete(peer);
    if (state.closedNonces?.size === 0) state.closedNonces = undefined;
  });
};

export const linkClose: Handler<'link.close'> = (ctx, e) => {
  const { state } = ctx;
  const { action, subject } = PERMISSION_OF['link.close'];
  const check = checkPlain(ctx.ability(e.author), ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  const peer = e.header.body.peer as PursuanceId;
  if (!state.links?.has(peer)) return reject(RejectionCode.UNKNOWN_TARGET, 'there is no link to that pursuance');
  return accept(() => {
    const seen = state.links!.get(peer)!.seen;
    if (seen.size > 0) (state.closedNonces ??= new Map()).set(peer, seen);
    state.links!.delete(peer);
    // None left: the state encodes (and hashes) as it did before links existed.
    if (state.links!.size === 0) state.links = undefined;
  });
};

/**
 * An announcement of theirs, carried in by any member. Their anchor role's keys form a chain (key
 * n + 1 signed by key n); any other role's key is signed by the current anchor and replaces an
 * older one. The same ordinal again is a renewal when the key is the same (a later expiry), and
 * a fork when it is not: both are valid signatures of their anchor, so the link freezes with both
 * as evidence. A key adopted under an anchor since superseded constrains nothing: the new
 * anchor's word replaces it (a removed anchor holder may have signed it).
 */
export const linkKeys: Handler<'link.keys'> = (ctx, e) => {
  const { state } = ctx;
  const a = e.header.body.announcement;
  const link = state.links?.get(a.from as PursuanceId);
  if (!link) return reject(RejectionCode.UNKNOWN_TARGET, 'there is no link to the pursuance this announcement comes from');
  if (link.frozen)
    return reject(RejectionCode.INVALID_STATE, 'the link is frozen: their anchor signed two different keys for one role; open it again once that is resolved');
  const isAnchor = a.role === link.theirAnchor;
  if (!isAnchor && !link.theyMay.some((g) => g.theirRole === a.role) && !link.weSend.some((w) => w.theirs === a.role)) {
    return reject(RejectionCode.DENIED, `their role "${a.role}" is no role this link maps: nothing to announce`);
  }
  const problem = statementProblem(a, state, e.header.time);
  if (problem) return problem;
  const anchor = link.keys.get(link.theirAnchor)!;
  // Under a superseded anchor a key vouches for nothing: the current anchor's word replaces it.
  const standing = standingKey(link, a.role);
  if (isAnchor && a.n > anchor.n + 1) return reject(RejectionCode.INVALID_STATE, `their anchor's key ${anchor.n + 1} must be announced before key ${a.n}`);
  const differs = (k: LinkKey): boolean => !equalBytes(a.keyId, k.keyId) || !equalBytes(a.pub.sig, k.sig) || !equalBytes(a.pub.box, k.box);
  const fork = standing !== undefined && a.n === standing.n && differs(standing);
  // A fork is evidence when signed by whoever signed the key it contradicts: for the anchor, the
  // key before it (which a removed holder may still have), so the race with the honest successor
  // freezes the link whichever comes first.
  if (!signedBy(a, anchor.sig) && !(fork && signedBy(a, standing.signer))) {
    return reject(RejectionCode.BAD_SIGNATURE, 'the announcement is not signed by their current anchor key');
  }
  if (fork) {
    const events = [standing.by, e.id] as const;
    return accept(() => {
      link.frozen = { role: a.role, n: a.n, events };
    });
  }
  const adopt = (): Outcome =>
    accept(() => {
      link.keys.set(a.role, keyOf(a, e.id, anchor));
    });
  if (!standing || a.n > standing.n) return adopt();
  if (a.n < standing.n) return reject(RejectionCode.INVALID_STATE, `key ${a.n} of "${a.role}" is superseded: key ${standing.n} is current`);
  if (a.validUntil <= standing.validUntil) return reject(RejectionCode.INVALID_STATE, `key ${a.n} of "${a.role}" is already announced until then`);
  // A renewal: the same key for longer, still known as signed by whoever signed it first.
  return accept(() => {
    link.keys.set(a.role, keyOf(a, e.id, { n: standing.anchorN, sig: standing.signer }));
  });
};

/** Their current key of `role`, when they announced one under their current anchor. */
function standingKey(link: LinkState, role: string): LinkKey | undefined {
  const key = link.keys.get(role);
  const anchor = link.keys.get(link.theirAnchor)!;
  return key && (role === link.theirAnchor || key.anchorN === anchor.n) ? key : undefined;
}

/**
 * Why `r` is no receipt our state can vouch for (null when it is one): it must come from a
 * pursuance we link, be addressed to us, and be signed by their standing key of the role it
 * names, at the ordinal we hold. A receipt signed by a key of theirs we have not adopted yet (or
 * no longer hold) cannot be checked: the caller keeps it aside or drops it.
 */
export function receiptProblem(state: PublicState, r: Receipt): string | null {
  const link = state.links?.get(r.from as PursuanceId);
  if (!link) return 'there is no link to the pursuance it comes from';
  if (r.to !== state.id) return 'it is for another pursuance';
  const key = standingKey(link, r.role);
  if (!key) return `no current key of their "${r.role}" is known here`;
  if (key.n !== r.n) return `it is signed by key ${r.n} of their "${r.role}"; key ${key.n} is current here`;
  if (!receiptSignedBy(r, key.sig)) return `it is not signed by their current key of "${r.role}"`;
  return null;
}

/** What a fork of our own announcements, reported by a linked pursuance, shows (forkEvidence). */
export interface ForkEvidence {
  readonly role: string;
  readonly n: number;
  /** Ordinals of our anchor's keys that signed the two (each once, ascending). */
  readonly signers: readonly number[];
  /** One of the two is the key our log holds for that role and ordinal (the other is not ours). */
  readonly ours: boolean;
}

/**
 * What the pair of announcements `pair`, posted by `peer` as the reason it froze our link, shows
 * of us: both must be from us to `peer` over a link we hold, for one role and ordinal, different,
 * and each signed by one of our anchor role's keys (so only a holder of one of those keys, now or
 * once, made them). A string says why it is no such evidence: anyone can post into our inbox.
 */
export function forkEvidence(state: PublicState, peer: PursuanceId, pair: readonly [Announcement, Announcement]): ForkEvidence | string {
  const link = state.links?.get(peer);
  if (!link) return 'there is no link to the pursuance it comes from';
  const [x, y] = pair;
  if (x.from !== state.id || y.from !== state.id) return 'it is not about announcements of ours';
  if (x.to !== peer || y.to !== peer) return 'it is about announcements to another pursuance';
  if (x.role !== y.role || x.n !== y.n) return 'the two announce different roles or ordinals';
  if (equalBytes(x.keyId, y.keyId) && equalBytes(x.pub.sig, y.pub.sig) && equalBytes(x.pub.box, y.pub.box)) return 'the two announce the same key';
  const anchors = announceableKeys(state, link.ourAnchor);
  const signerOf = (a: Announcement): number => anchors.findIndex((ep) => signedBy(a, ep.pub!.sig)) + 1;
  const signers = [signerOf(x), signerOf(y)];
  if (signers.includes(0)) return `it is not signed by a key of our "${link.ourAnchor}"`;
  const held = announceableKeys(state, x.role)[x.n - 1];
  const isOurs = (a: Announcement): boolean =>
    held !== undefined && equalBytes(a.keyId, held.keyId) && equalBytes(a.pub.sig, held.pub!.sig) && equalBytes(a.pub.box, held.pub!.box);
  return { role: x.role, n: x.n, signers: [...new Set(signers)].sort((a, b) => a - b), ours: isOurs(x) || isOurs(y) };
}

/**
 * Why `v` is no vouch our state stands behind for a join request of hour `hour` from `applicant`
 * to the profile of our role `reviewer` (null when it is one): it must come from a pursuance we
 * link (not frozen), be addressed to us, come from a role the link lets vouch for applicants our
 * `reviewer` reviews, be signed by their standing key of that role at the ordinal we hold, whose
 * announcement had not expired at the request's hour, name this applicant, and be dated within
 * VOUCH_HOURS before the request. Whether it was used before is the caller's to know.
 */
export function vouchProblem(
  state: PublicState,
  v: Vouch,
  request: { readonly reviewer: string; readonly applicant: Uint8Array; readonly hour: number },
): string | null {
  const link = state.links?.get(v.from as PursuanceId);
  if (!link) return 'there is no link to the pursuance it comes from';
  if (v.to !== state.id) return 'it is for another pursuance';
  if (link.frozen) return 'the link to the pursuance it comes from is frozen';
  if (!link.theyMay.some((g) => g.theirRole === v.role && g.action === 'vouch' && g.on === request.reviewer))
    return `the link does not let their "${v.role}" vouch for applicants to our "${request.reviewer}"`;
  const key = standingKey(link, v.role);
  if (!key) return `no current key of their "${v.role}" is known here`;
  if (key.n !== v.n) return `it is signed by key ${v.n} of their "${v.role}"; key ${key.n} is current here`;
  if (key.validUntil <= request.hour * HOUR_MS) return `their announcement of "${v.role}" had expired`;
  if (!equalBytes(v.applicant, request.applicant)) return 'it names another applicant';
  const hour = vouchHourProblem(v.hour, request.hour);
  if (hour !== null) return `it is out of date: ${hour}`;
  if (!vouchSignedBy(v, key.sig)) return `it is not signed by their current key of "${v.role}"`;
  return null;
}

/**
 * Our record of a task we send over a link: only a holder of the sending role may, over a link
 * that lets that role send to their role, while we hold a current, unexpired key of theirs for
 * it (what the content is sealed to). It changes nothing here; it is what their receipts are
 * reconciled with, so a holder who sends without this record is found out.
 */
export const linkSend: Handler<'link.send'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const link = state.links?.get(b.peer as PursuanceId);
  if (!link) return reject(RejectionCode.UNKNOWN_TARGET, 'there is no link to that pursuance');
  if (!link.weSend.some((w) => w.ours === b.ours && w.theirs === b.theirs)) {
    return reject(RejectionCode.DENIED, `the link does not let our "${b.ours}" send to their "${b.theirs}"`);
  }
  if (!ctx.declared(b.ours)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${b.ours}" does not exist`);
  if (!state.roles.get(b.ours)!.holders.has(e.author)) return reject(RejectionCode.DENIED, `only holders of "${b.ours}" send for it`);
  if (link.frozen) return reject(RejectionCode.INVALID_STATE, 'the link is frozen');
  const theirs = standingKey(link, b.theirs);
  if (!theirs || theirs.validUntil <= e.header.time)
    return reject(RejectionCode.UNKNOWN_KEY, `no current key of their "${b.theirs}": wait for their announcement`);
  return accept(() => undefined);
};

/**
 * A task a linked pursuance sent us, carried in by any member. Everything is public: the link
 * (open, not frozen), what it lets their role do to which of ours (a link grants nothing else),
 * their role's key (the one they announced last, under their current anchor, unexpired at this
 * event), the credential's signature, hour and nonce, the digest of the content, and our key the
 * content is sealed to (our role's current one, so nobody it was rotated away from reads it).
 * Accepted, it opens a task of that role whose origin is the link and their role.
 */
export const linkTask: Handler<'link.task'> = (ctx, e) => {
  const { state } = ctx;
  const { credential: c, keyId, box } = e.header.body;
  const link = state.links?.get(c.from as PursuanceId);
  if (!link) return reject(RejectionCode.UNKNOWN_TARGET, 'there is no link to the pursuance that sent this task');
  if (c.to !== state.id) return reject(RejectionCode.WRONG_PURSUANCE, 'the credential is for another pursuance');
  if (e.header.audience.length !== 1 || e.header.audience[0] !== c.on)
    return reject(RejectionCode.INVALID_SCHEMA, 'a task sent over a link goes to exactly the role its credential names');
  if (link.frozen) return reject(RejectionCode.INVALID_STATE, 'the link is frozen: nothing it carries is taken in until it is opened again');
  if (!link.theyMay.some((g) => g.theirRole === c.role && g.action === c.action && g.on === c.on)) {
    return reject(RejectionCode.DENIED, `the link does not let their "${c.role}" ${c.action} tasks for our "${c.on}"`);
  }
  if (!ctx.declared(c.on)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${c.on}" does not exist`);
  const theirs = standingKey(link, c.role);
  if (!theirs) return reject(RejectionCode.UNKNOWN_KEY, `no current key of their "${c.role}" is known here`);
  if (c.n !== theirs.n) return reject(RejectionCode.STALE_EPOCH, `the credential is signed by key ${c.n} of their "${c.role}"; key ${theirs.n} is current`);
  if (theirs.validUntil <= e.header.time)
    return reject(RejectionCode.STALE_EPOCH, `their announcement of "${c.role}" has expired: nothing it signs is taken in until they announce it again`);
  const hour = credentialHourProblem(c.hour, e.header.time);
  if (hour !== null) return reject(RejectionCode.INVALID_SCHEMA, `the credential is out of date: ${hour}`);
  if (!credentialSignedBy(c, theirs.sig)) return reject(RejectionCode.BAD_SIGNATURE, `the credential is not signed by their current key of "${c.role}"`);
  if (!equalBytes(sha256(box), c.digest)) return reject(RejectionCode.INVALID_SCHEMA, 'the content is not the one the credential names');
  const nonce = toHex(c.nonce);
  if (link.seen.has(nonce)) return reject(RejectionCode.INVALID_STATE, 'this credential was taken in already');
  const r = state.roles.get(c.on)!;
  const epoch = r.epochsById.get(toHex(keyId));
  if (!epoch?.pub) return reject(RejectionCode.UNKNOWN_KEY, `the content is sealed to no key of "${c.on}" with public halves`);
  if (epoch !== r.epochs.at(-1))
    return reject(RejectionCode.STALE_EPOCH, `the content is sealed to a key of "${c.on}" since rotated away: they must send it again`);
  const padded = box.length - ROLE_BOX_OVERHEAD;
  if (padded <= 0 || padded % CONTENT_PADDING_BUCKET !== 0) return reject(RejectionCode.INVALID_SCHEMA, 'the content is not padded as task content is');
  return accept(() => {
    link.seen.add(nonce);
    state.tasks.set(e.id, {
      id: e.id,
      audience: [c.on],
      parent: null,
      createdBy: e.author,
      closed: false,
      children: new Set(),
      origin: { peer: link.peer, role: c.role },
    });
  });
};
