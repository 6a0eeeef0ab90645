import {
  CryptoError,
  canonicalDecode,
  canonicalEncode,
  equalBytes,
  openFromIdentity,
  padToSize,
  sealToIdentity,
  sealToRole,
  unpad,
  type CanonicalValue,
  type Identity,
} from '@pursuance/crypto';
import type { EventBody } from './bodies.js';
import { ContentUnreadableError } from './errors.js';
import { CONTENT_PADDING_BUCKET, boundContent, roleKeyPair, type ContentBinding, type Keyring } from './keys.js';
import type { EpochPub } from './state.js';

/**
 * Sealing and opening write-only submissions (bodies.ts `submission.create`). The plaintext is
 * the content bound to its event (keys.ts boundContent: kind, pursuance, author, sequence), padded
 * like task content, so a holder who opens one cannot re-post it as someone else's, and its size
 * says no more than a task's. It is sealed twice: to the audience epoch's X25519 key, under a
 * context naming the pursuance, role and key (a box moved to another pursuance, role or epoch does
 * not open), and to the submitter's own identity, so they read what they sent and nothing else.
 */
const CONTEXT_DOMAIN = 'pursuance/submission/v1';

function context(pursuance: string, role: string, keyId: Uint8Array): Uint8Array {
  return canonicalEncode({ dom: CONTEXT_DOMAIN, pursuance, role, keyId });
}

export interface SubmissionTarget {
  readonly role: string;
  readonly keyId: Uint8Array;
  readonly pub: EpochPub;
}

export function sealSubmission(
  binding: ContentBinding,
  content: CanonicalValue,
  target: SubmissionTarget,
  submitter: Uint8Array,
): EventBody<'submission.create'> {
  const plain = canonicalEncode(boundContent(binding, content));
  const padded = padToSize(plain, Math.ceil((plain.length + 4) / CONTENT_PADDING_BUCKET) * CONTENT_PADDING_BUCKET);
  return {
    keyId: target.keyId,
    box: sealToRole(target.pub.box, padded, context(binding.pursuance, target.role, target.keyId)),
    self: sealToIdentity(submitter, padded),
  };
}

/** Who reads: the role keys held, and the reader's identity (for their own submissions). */
export interface SubmissionReader {
  readonly keyring: Keyring;
  readonly me?: Identity;
}

/**
 * The bound content of a submission, opened with a key of its audience or, for its own author,
 * with their identity; null when this reader can open neither (the common case for members who
 * are neither). Throws ContentUnreadableError when a box this reader should open does not.
 */
export function openSubmission(
  body: EventBody<'submission.create'>,
  pursuance: string,
  role: string,
  author: Uint8Array,
  reader: SubmissionReader,
): CanonicalValue | null {
  const k = reader.keyring.get(body.keyId);
  try {
    if (k && k.role === role) return canonicalDecode(unpad(roleKeyPair(k).open(body.box, context(pursuance, role, body.keyId))));
    if (reader.me && equalBytes(reader.me.publicKey, author)) return canonicalDecode(unpad(openFromIdentity(reader.me, body.self)));
  } catch (err) {
    if (err instanceof CryptoError) throw new ContentUnreadableError(`the submission is corrupt: ${err.message}`);
    throw err;
  }
  return null;
}
