import { randomBytes } from 'node:crypto';
import { base64UpTo, decodeJSON, encodeJSON } from '@pursuance/codec';
import { toBase64, toHex } from '@pursuance/crypto';
import { z } from 'zod';
import { PeerMessageInvalidError } from './errors.js';
import { MAX_PEER_CONTEXT_LENGTH, MAX_PEER_MESSAGE_DATA, MAX_PEER_MESSAGE_ID_LENGTH, PEER_MESSAGE_FIELDS as F } from './protocol-profile.js';

/**
 * Cwtch's PeerApp wire message: one JSON object `{"ID", "Context", "Data"}` per sealed tapir
 * packet (Data is base64). Unknown contexts are parsed fine and ignored by the dispatcher, as
 * Cwtch requires (e.g. im.cwtch.version from V2 peers).
 */
export interface PeerMessage {
  readonly id: string;
  readonly context: string;
  readonly data: Uint8Array;
}

/**
 * The largest encoded PeerMessage we read: the sealed payload of tapir wire version 2. Version 3
 * gives 8174 bytes; the peer protocol keeps its own limit so that it does not move with tapir's.
 */
export const MAX_PEER_MESSAGE_BYTES = 8150;

const PeerMessageSchema = z.strictObject({
  [F.id]: z
    .string()
    .min(1)
    .max(MAX_PEER_MESSAGE_ID_LENGTH)
    .regex(/^[A-Za-z0-9_-]+$/),
  [F.context]: z
    .string()
    .min(1)
    .max(MAX_PEER_CONTEXT_LENGTH)
    .regex(/^[\x21-\x7e]+$/),
  [F.data]: base64UpTo(MAX_PEER_MESSAGE_DATA),
});

const fail = (reason: string, cause?: unknown) => new PeerMessageInvalidError(`peer message: ${reason}`, { cause });

export function parsePeerMessage(payload: Uint8Array): PeerMessage {
  const m = decodeJSON(payload, PeerMessageSchema, fail, { maxBytes: MAX_PEER_MESSAGE_BYTES });
  return { id: m[F.id], context: m[F.context], data: m[F.data] };
}

export function encodePeerMessage(message: PeerMessage): Uint8Array {
  if (message.data.length > MAX_PEER_MESSAGE_DATA) throw new PeerMessageInvalidError('peer message data too large');
  return encodeJSON({ [F.id]: message.id, [F.context]: message.context, [F.data]: toBase64(message.data) });
}

export function newMessageId(): string {
  return toHex(new Uint8Array(randomBytes(16)));
}
