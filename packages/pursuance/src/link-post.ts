import { CryptoError, canonicalDecode, canonicalEncode } from '@pursuance/crypto';
import { z } from 'zod';
import { AnnouncementSchema, LinkParcelSchema, ReceiptSchema } from './bodies.js';
import type { Announcement, LinkParcel, Receipt } from './link.js';

/**
 * What one side's nodes post into the other side's link inbox (a drop box the other side's
 * nodes read): the keys its anchor announces, a task with its credential, a receipt for a task
 * the other side sent, or the evidence that froze the link (two announcements of the other side
 * for one role and ordinal: `fork`, so the other side learns its anchor key signs for someone
 * else, FEDERATION.md L7). Posts carry no
 * author and need none: every statement in them is signed by a role key of the sending
 * pursuance, and the receiving fold judges each one when a member carries it in. The transport
 * caps one post's size; `splitAnnouncements` fills posts up to a size the caller gives.
 */
export const LINK_POST_VERSION = 1;
/** Announcements in one post, at most: an anchor chain after many rotations is sent in several. */
export const LINK_POST_KEYS_MAX = 64;

const LinkPostSchema = z.discriminatedUnion('t', [
  z.strictObject({ v: z.literal(LINK_POST_VERSION), t: z.literal('keys'), a: z.array(AnnouncementSchema).min(1).max(LINK_POST_KEYS_MAX) }),
  z.strictObject({ v: z.literal(LINK_POST_VERSION), t: z.literal('task'), p: LinkParcelSchema }),
  z.strictObject({ v: z.literal(LINK_POST_VERSION), t: z.literal('receipt'), r: ReceiptSchema }),
  z.strictObject({ v: z.literal(LINK_POST_VERSION), t: z.literal('fork'), f: z.tuple([AnnouncementSchema, AnnouncementSchema]) }),
]);

export type LinkPost =
  | { readonly t: 'keys'; readonly a: readonly Announcement[] }
  | { readonly t: 'task'; readonly p: LinkParcel }
  | { readonly t: 'receipt'; readonly r: Receipt }
  | { readonly t: 'fork'; readonly f: readonly [Announcement, Announcement] };

export class InvalidLinkPostError extends Error {
  public readonly code = 'INVALID_LINK_POST';
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidLinkPostError';
  }
}

export function encodeLinkPost(post: LinkPost): Uint8Array {
  const value =
    post.t === 'keys'
      ? { v: LINK_POST_VERSION, t: 'keys', a: [...post.a] }
      : post.t === 'task'
        ? { v: LINK_POST_VERSION, t: 'task', p: post.p }
        : post.t === 'receipt'
          ? { v: LINK_POST_VERSION, t: 'receipt', r: post.r }
          : { v: LINK_POST_VERSION, t: 'fork', f: [...post.f] };
  const parsed = LinkPostSchema.safeParse(value);
  if (!parsed.success) throw new InvalidLinkPostError(`not a link post: ${parsed.error.issues[0]?.message ?? ''}`);
  return canonicalEncode(parsed.data);
}

/** A post from the bytes a drop box delivered (anyone holding the inbox may post): InvalidLinkPostError unless it is one. */
export function decodeLinkPost(bytes: Uint8Array): LinkPost {
  let value: unknown;
  try {
    value = canonicalDecode(bytes);
  } catch (err) {
    if (err instanceof CryptoError) throw new InvalidLinkPostError('not a canonical encoding');
    throw err;
  }
  const parsed = LinkPostSchema.safeParse(value);
  if (!parsed.success) throw new InvalidLinkPostError(`not a link post: ${parsed.error.issues[0]?.message ?? ''}`);
  const d = parsed.data;
  switch (d.t) {
    case 'keys':
      return { t: 'keys', a: d.a };
    case 'task':
      return { t: 'task', p: d.p };
    case 'receipt':
      return { t: 'receipt', r: d.r };
    case 'fork':
      return { t: 'fork', f: d.f };
  }
}

/**
 * `announcements` as posts of at most `maxBytes` each, in order (the receiving side takes an
 * anchor chain in turn). InvalidLinkPostError when one announcement alone does not fit.
 */
export function splitAnnouncements(announcements: readonly Announcement[], maxBytes: number): Uint8Array[] {
  const posts: Uint8Array[] = [];
  let batch: Announcement[] = [];
  let encoded: Uint8Array | undefined;
  for (const a of announcements) {
    const tried = batch.length < LINK_POST_KEYS_MAX ? encodeLinkPost({ t: 'keys', a: [...batch, a] }) : undefined;
    if (tried !== undefined && tried.length <= maxBytes) {
      batch.push(a);
      encoded = tried;
      continue;
    }
    if (encoded === undefined) throw new InvalidLinkPostError('one announcement does not fit in a post');
    posts.push(encoded);
    batch = [a];
    encoded = encodeLinkPost({ t: 'keys', a: batch });
    if (encoded.length > maxBytes) throw new InvalidLinkPostError('one announcement does not fit in a post');
  }
  if (encoded !== undefined) posts.push(encoded);
  return posts;
}
