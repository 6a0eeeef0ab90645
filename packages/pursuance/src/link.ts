import { randomBytes } from 'node:crypto';
import {
  CryptoError,
  canonicalDecode,
  canonicalEncode,
  isUsableBoxKey,
  isUsableSigningKey,
  padToSize,
  sealToRole,
  unpad,
  verifySignature,
  type CanonicalValue,
} from '@pursuance/crypto';
import { type z } from 'zod';
import {
  AnnouncementSchema,
  CredentialSchema,
  DAY_MS,
  LINK_KEYS_MAX_DAYS,
  LINKS_MAX,
  LinkOfferSchema,
  LinkParcelSchema,
  ReceiptSchema,
  SubmissionContentSchema,
  UnsignedAnnouncementSchema,
  UnsignedCredentialSchema,
  UnsignedReceiptSchema,
} from './bodies.js';
import { ContentUnreadableError } from './errors.js';
import { CONTENT_PADDING_BUCKET, roleKeyPair, type RoleKey } from './keys.js';
import type { KeyEpoch, LinkState, PublicState } from './state.js';

/**
 * Links between pursuances: how pursuance B learns, and keeps current, the public keys of A's
 * roles without seeing A's log (design note §5, §5a as built).
 *
 * A states its role keys in announcements: `{from: A, to: B, role, n, keyId, pub, validUntil}`,
 * `pub` being the public halves A's rotation published and `n` the key's ordinal among the
 * role's keys with public halves in A's log, signed by A's ANCHOR: the
 * signing key of one of A's roles, pinned by B when it opens the link. The anchor's first
 * announcement signs itself (the offer B pins); each later anchor key is announced signed by the
 * one before it (n + 1 by n), so B follows A's anchor role through its rotations; other roles'
 * keys are signed by the anchor current when they are announced.
 *
 * Nothing here reads a clock: B's fold judges expiry against the event that carries an
 * announcement into its log, like every time check of the fold.
 */
export const ANNOUNCE_DOMAIN = 'pursuance/link-keys/v1';
export { AnnouncementSchema, LINK_KEYS_MAX_DAYS, LINKS_MAX, UnsignedAnnouncementSchema };
export type UnsignedAnnouncement = z.infer<typeof UnsignedAnnouncementSchema>;
export type Announcement = z.infer<typeof AnnouncementSchema>;

export class InvalidAnnouncementError extends Error {
  public readonly code = 'INVALID_ANNOUNCEMENT';
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidAnnouncementError';
  }
}

function signedBytes(a: UnsignedAnnouncement): Uint8Array {
  return canonicalEncode({ dom: ANNOUNCE_DOMAIN, ...a });
}

/** Sign `a` with the anchor key `anchor` (a role key of the announcing pursuance that we hold). */
export function signAnnouncement(a: UnsignedAnnouncement, anchor: RoleKey): Announcement {
  const parsed = UnsignedAnnouncementSchema.safeParse(a);
  if (!parsed.success) throw new InvalidAnnouncementError(`not an announcement: ${parsed.error.issues[0]?.message ?? ''}`);
  return { ...parsed.data, signature: roleKeyPair(anchor).sign(signedBytes(parsed.data)) };
}

/** Whether `a` carries a valid signature by the ed25519 key `signer`. */
export function signedBy(a: Announcement, signer: Uint8Array): boolean {
  const { signature, ...unsigned } = a;
  return verifySignature(signedBytes(unsigned), signature, signer);
}

/**
 * Why the key an announcement states is unusable, whoever signed it (null when it is fine). The
 * proof of possession its rotation carried is not repeated: A's fold checked it, A's state keeps
 * only the halves (so a member whose log starts from a snapshot can announce too), and the anchor's
 * signature is what B relies on. Weak keys are refused as A's fold refuses them.
 */
export function announcedKeyProblem(a: Announcement): string | null {
  if (!isUsableSigningKey(a.pub.sig)) return 'the signing key is not a usable ed25519 key';
  if (!isUsableBoxKey(a.pub.box)) return 'the box key is low-order or not canonical';
  return null;
}

/**
 * Why `validUntil` is out of bounds for an announcement carried by an event of time `time` (null
 * when it is within): after it, at a UTC midnight at most LINK_KEYS_MAX_DAYS later, so a key B
 * stops hearing about lapses within days (the schema has checked the alignment).
 */
export function validityProblem(validUntil: number, time: number): string | null {
  if (validUntil <= time) return 'it has expired';
  if (validUntil > (Math.floor(time / DAY_MS) + LINK_KEYS_MAX_DAYS) * DAY_MS) return `it is valid for more than ${LINK_KEYS_MAX_DAYS} days`;
  return null;
}

/**
 * An offer to link: what one pursuance hands another out of band (pasted like a join link). The
 * anchor's announcement signs itself; the whole offer — that announcement, the name the offering
 * pursuance goes by and its inbox for this link — is signed by the same key. The receiving side
 * compares the anchor's key id with the offerer's over another channel before opening the link.
 */
export const OFFER_DOMAIN = 'pursuance/link-offer/v1';
export const LINK_OFFER_PREFIX = 'pursuance-link:1:';
/** Longest text accepted as an offer (an inbox invite is under 5 KB). */
export const LINK_OFFER_TEXT_MAX = 16_384;
export { LinkOfferSchema };
export type LinkOffer = z.infer<typeof LinkOfferSchema>;

export class InvalidLinkOfferError extends Error {
  public readonly code = 'INVALID_LINK_OFFER';
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidLinkOfferError';
  }
}

function offerBytes(o: Omit<LinkOffer, 'signature'>): Uint8Array {
  return canonicalEncode({ dom: OFFER_DOMAIN, ...o });
}

/** Sign an offer with the anchor key `anchor` (whose self-signed announcement `announcement` is). */
export function signLinkOffer(announcement: Announcement, name: string, inbox: string, anchor: RoleKey): LinkOffer {
  const parsed = LinkOfferSchema.omit({ signature: true }).safeParse({ anchor: announcement, name, inbox });
  if (!parsed.success) throw new InvalidLinkOfferError(`not a link offer: ${parsed.error.issues[0]?.message ?? ''}`);
  // The schema's bounds (a name of 120, an inbox of 8,192) keep its text under LINK_OFFER_TEXT_MAX (tested).
  return { ...parsed.data, signature: roleKeyPair(anchor).sign(offerBytes(parsed.data)) };
}

/** Why `o` is no valid offer whoever receives it (null when it is one): both signatures by the anchor it offers, a usable key. */
export function linkOfferProblem(o: LinkOffer): string | null {
  const key = announcedKeyProblem(o.anchor);
  if (key !== null) return `the anchor key is unusable: ${key}`;
  if (!signedBy(o.anchor, o.anchor.pub.sig)) return 'the anchor offer is not signed by the key it offers';
  const { signature, ...unsigned } = o;
  if (!verifySignature(offerBytes(unsigned), signature, o.anchor.pub.sig)) return 'the offer is not signed by the key it offers';
  return null;
}

export function linkOfferText(o: LinkOffer): string {
  return LINK_OFFER_PREFIX + Buffer.from(canonicalEncode(o)).toString('base64url');
}

/**
 * An offer from its text, checked (linkOfferProblem) and addressed to `to`, not expired at `now`:
 * what a member pastes before opening a link. InvalidLinkOfferError otherwise, saying why.
 */
export function parseLinkOfferText(text: string, to: string, now: number): LinkOffer {
  const trimmed = text.trim();
  if (trimmed.length > LINK_OFFER_TEXT_MAX) throw new InvalidLinkOfferError('too long to be a link offer');
  if (!trimmed.startsWith(LINK_OFFER_PREFIX)) throw new InvalidLinkOfferError(`a link offer starts with "${LINK_OFFER_PREFIX}"`);
  const body = trimmed.slice(LINK_OFFER_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body)) throw new InvalidLinkOfferError('a link offer is base64url after its prefix');
  let value: unknown;
  try {
    value = canonicalDecode(new Uint8Array(Buffer.from(body, 'base64url')));
  } catch (err) {
    if (err instanceof CryptoError) throw new InvalidLinkOfferError('not a canonical encoding of a link offer');
    throw err;
  }
  const parsed = LinkOfferSchema.safeParse(value);
  if (!parsed.success) throw new InvalidLinkOfferError(`not a link offer: ${parsed.error.issues[0]?.message ?? ''}`);
  const problem = linkOfferProblem(parsed.data);
  if (problem !== null) throw new InvalidLinkOfferError(`not a valid link offer: ${problem}`);
  if (parsed.data.anchor.to !== to) throw new InvalidLinkOfferError('this offer is for another pursuance');
  const validity = validityProblem(parsed.data.anchor.validUntil, now);
  if (validity !== null) throw new InvalidLinkOfferError(`this offer is out of date (${validity}): ask them for a new one`);
  return parsed.data;
}

/**
 * The keys of `role` with public halves, oldest first: what links number (key n is the n-th), as
 * announcements, credentials, receipts and vouches name them.
 */
export function announceableKeys(state: Pick<PublicState, 'roles'>, role: string): KeyEpoch[] {
  return (state.roles.get(role)?.epochs ?? []).filter((ep) => ep.pub !== undefined);
}

/**
 * The roles of ours a link tells them about: our anchor first, then, sorted, those we send from
 * and those they may address (whose keys they need to seal to or to check).
 */
export function announcedRoles(link: Pick<LinkState, 'ourAnchor' | 'weSend' | 'theyMay'>): string[] {
  const others = new Set([...link.weSend.map((w) => w.ours), ...link.theyMay.map((g) => g.on)]);
  others.delete(link.ourAnchor);
  return [link.ourAnchor, ...[...others].sort()];
}

/**
 * Tasks across a link. A holder of A's role R sends B a parcel: the content sealed to the current
 * key of B's role `on` (as A last heard it announced), and a credential signed by R's current
 * key, bound to both pursuances, the action, `on`, the content's digest, an hour and a random
 * nonce. B's fold checks it against the key A announced for R (fold/links.ts): a credential of a
 * rotated-away key is refused once B has the newer announcement, one whose announcement expired
 * is refused, a nonce is good once. Any B member carries the parcel in; B learns no A member.
 */
export const CREDENTIAL_DOMAIN = 'pursuance/link-cred/v1';
const TASK_CONTEXT_DOMAIN = 'pursuance/link-task/v1';
export const HOUR_MS = 3_600_000;
/** A credential is good from its hour until this many hours later (for carrying in), and an hour early (clock skew). */
export const CREDENTIAL_HOURS = 24;

export { CredentialSchema, LinkParcelSchema, UnsignedCredentialSchema };
export type UnsignedCredential = z.infer<typeof UnsignedCredentialSchema>;
export type Credential = z.infer<typeof CredentialSchema>;
export type LinkParcel = z.infer<typeof LinkParcelSchema>;
export type LinkTaskContent = z.infer<typeof SubmissionContentSchema>;

function credentialBytes(c: UnsignedCredential): Uint8Array {
  return canonicalEncode({ dom: CREDENTIAL_DOMAIN, ...c });
}

export class InvalidCredentialError extends Error {
  public readonly code = 'INVALID_CREDENTIAL';
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidCredentialError';
  }
}

export function signCredential(c: Omit<UnsignedCredential, 'nonce'>, key: RoleKey): Credential {
  const parsed = UnsignedCredentialSchema.safeParse({ ...c, nonce: new Uint8Array(randomBytes(16)) });
  if (!parsed.success) throw new InvalidCredentialError(`not a credential: ${parsed.error.issues[0]?.message ?? ''}`);
  return { ...parsed.data, signature: roleKeyPair(key).sign(credentialBytes(parsed.data)) };
}

export function credentialSignedBy(c: Credential, signer: Uint8Array): boolean {
  const { signature, ...unsigned } = c;
  return verifySignature(credentialBytes(unsigned), signature, signer);
}

/** Why a credential's hour is out of bounds for an event of time `time` (null when within). */
export function credentialHourProblem(hour: number, time: number): string | null {
  const now = Math.floor(time / HOUR_MS);
  if (hour > now + 1) return 'it is dated in the future';
  if (hour < now - CREDENTIAL_HOURS) return `it is more than ${CREDENTIAL_HOURS} hours old`;
  return null;
}

function taskContext(pursuance: string, role: string, keyId: Uint8Array): Uint8Array {
  return canonicalEncode({ dom: TASK_CONTEXT_DOMAIN, pursuance, role, keyId });
}

/** Seal task content for role `role`'s key `keyId` (public box key `box`) of pursuance `to`, padded like task content. */
export function sealLinkTask(to: string, role: string, keyId: Uint8Array, box: Uint8Array, content: LinkTaskContent): Uint8Array {
  const plain = canonicalEncode(content);
  const padded = padToSize(plain, Math.ceil((plain.length + 4) / CONTENT_PADDING_BUCKET) * CONTENT_PADDING_BUCKET);
  return sealToRole(box, padded, taskContext(to, role, keyId));
}

/**
 * Receipts: a holder of B's role `on` tells A what became of a task A sent (accepted, or refused
 * with the fold's code and reason), signed by B's current key of that role, which A knows from
 * B's announcements. They travel outside both logs: A's nodes match them with the `link.send`
 * records of A's log, so a send that A's log never recorded shows up (FEDERATION.md L14), and
 * A's members learn why a task was refused (L13).
 */
export const RECEIPT_DOMAIN = 'pursuance/link-receipt/v1';
export { ReceiptSchema };
export type UnsignedReceipt = z.infer<typeof UnsignedReceiptSchema>;
export type Receipt = z.infer<typeof ReceiptSchema>;

function receiptBytes(r: UnsignedReceipt): Uint8Array {
  return canonicalEncode({ dom: RECEIPT_DOMAIN, ...r });
}

/** Sign a receipt with our key of the role the task was for (the code and reason cut to their bounds); InvalidReceiptError for a bad field. */
export function signReceipt(r: UnsignedReceipt, key: RoleKey): Receipt {
  const parsed = UnsignedReceiptSchema.safeParse({ ...r, code: r.code.slice(0, 40), reason: r.reason.slice(0, 500) });
  if (!parsed.success) throw new InvalidReceiptError(`not a receipt: ${parsed.error.issues[0]?.message ?? ''}`);
  return { ...parsed.data, signature: roleKeyPair(key).sign(receiptBytes(parsed.data)) };
}

export function receiptSignedBy(r: Receipt, signer: Uint8Array): boolean {
  const { signature, ...unsigned } = r;
  return verifySignature(receiptBytes(unsigned), signature, signer);
}

export class InvalidReceiptError extends Error {
  public readonly code = 'INVALID_RECEIPT';
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidReceiptError';
  }
}

/** Open a task sent over a link with our role key `key` (of the parcel's `keyId`): ContentUnreadableError when it does not open or parse. */
export function openLinkTask(parcel: LinkParcel, pursuance: string, key: RoleKey): LinkTaskContent {
  let value: CanonicalValue;
  try {
    value = canonicalDecode(unpad(roleKeyPair(key).open(parcel.box, taskContext(pursuance, key.role, parcel.keyId))));
  } catch (err) {
    if (err instanceof CryptoError) throw new ContentUnreadableError(`the task sent over the link is corrupt: ${err.message}`);
    throw err;
  }
  const parsed = SubmissionContentSchema.safeParse(value);
  if (!parsed.success) throw new ContentUnreadableError(`the task sent over the link is malformed: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}
