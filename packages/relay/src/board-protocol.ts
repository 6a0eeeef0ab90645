import { toBase64 } from '@pursuance/crypto';
import { z } from 'zod';
import { MalformedRequestError, MalformedResponseError } from './errors.js';
import type { EncryptedGroupMessage } from './group-message.js';
import {
  GROUP_CIPHERTEXT_SIZE,
  GROUP_SIGNATURE_SIZE,
  MAX_BUCKET_INDEX,
  MAX_TOKEN_EPOCH_COUNT,
  MessageType,
  POST_FAILURE_CODES,
  RENEWAL_CHALLENGE_SIZE,
  RENEWAL_FAILURE_CODES,
  RENEWAL_SOLUTION_SIZE,
  type RenewalFailureCode,
  TOKEN_INPUT_SIZE,
  TOKEN_MAC_SIZE,
  type PostFailureCode,
} from './protocol-profile.js';
import type { SpentToken } from './tokens.js';
import { base64Bytes, decodeJSON, encodeJSON } from '@pursuance/codec';

/**
 * Codec of the board protocol: Cwtch's `groups.Message` envelope with one payload member,
 * one JSON object per sealed tapir packet. Every object is strict (unknown fields are refused)
 * and every byte field has its one accepted size, so the board's parser accepts exactly the
 * requests it can act on and nothing else.
 */

const EgmSchema = z.strictObject({
  Ciphertext: base64Bytes(GROUP_CIPHERTEXT_SIZE),
  Signature: base64Bytes(GROUP_SIGNATURE_SIZE),
});
const SpentTokenSchema = z.strictObject({
  E: z
    .number()
    .int()
    .min(0)
    .max(MAX_TOKEN_EPOCH_COUNT - 1),
  T: base64Bytes(TOKEN_INPUT_SIZE),
  MAC: base64Bytes(TOKEN_MAC_SIZE),
});

const BucketIndex = z.number().int().min(0).max(MAX_BUCKET_INDEX);

const BoardRequestSchema = z.discriminatedUnion('MessageType', [
  z.strictObject({
    MessageType: z.literal(MessageType.PostRequest),
    PostRequest: z.strictObject({ Token: SpentTokenSchema, EGM: EgmSchema }),
  }),
  z.strictObject({
    MessageType: z.literal(MessageType.ReplayRequest),
    // [S] Empty LastCommit = replay everything; otherwise the signature to replay from.
    ReplayRequest: z.strictObject({ LastCommit: z.union([z.literal(''), base64Bytes(GROUP_SIGNATURE_SIZE)]) }),
  }),
  // [O] Keepalive: an empty object, so a ping carries nothing a relay could use to tag a client.
  z.strictObject({ MessageType: z.literal(MessageType.Ping), Ping: z.strictObject({}) }),
  // [O] Renewal: proof of work on the session's current challenge; null asks for the challenge.
  z.strictObject({ MessageType: z.literal(MessageType.Renew), Renew: z.strictObject({ Solution: z.union([z.null(), base64Bytes(RENEWAL_SOLUTION_SIZE)]) }) }),
  // [O] Bucketed fetch: a bucket index only, the same for everyone back from the same hour.
  z.strictObject({ MessageType: z.literal(MessageType.BucketRequest), BucketRequest: z.strictObject({ From: BucketIndex }) }),
]);

export type BoardRequest =
  | { readonly kind: 'post'; readonly message: EncryptedGroupMessage; readonly token: SpentToken }
  | { readonly kind: 'replay'; readonly since: Uint8Array | undefined }
  | { readonly kind: 'fetch'; readonly fromBucket: number }
  | { readonly kind: 'ping' }
  | { readonly kind: 'renew'; readonly solution: Uint8Array | undefined };

/** Board side: parse one request payload. Anything malformed is a MalformedRequestError. */
export function parseBoardRequest(payload: Uint8Array): BoardRequest {
  const request = decodeJSON(payload, BoardRequestSchema, (reason, cause) => new MalformedRequestError(reason, { cause }));
  if (request.MessageType === MessageType.PostRequest) {
    const { Token, EGM } = request.PostRequest;
    return { kind: 'post', message: { ciphertext: EGM.Ciphertext, signature: EGM.Signature }, token: { epoch: Token.E, input: Token.T, mac: Token.MAC } };
  }
  if (request.MessageType === MessageType.Ping) return { kind: 'ping' };
  if (request.MessageType === MessageType.Renew) return { kind: 'renew', solution: request.Renew.Solution ?? undefined };
  if (request.MessageType === MessageType.BucketRequest) return { kind: 'fetch', fromBucket: request.BucketRequest.From };
  const last = request.ReplayRequest.LastCommit;
  return { kind: 'replay', since: typeof last === 'string' ? undefined : last };
}

const egmJSON = (m: EncryptedGroupMessage) => ({ Ciphertext: toBase64(m.ciphertext), Signature: toBase64(m.signature) });

export function encodePostRequest(message: EncryptedGroupMessage, token: SpentToken): Uint8Array {
  return encodeJSON({
    MessageType: MessageType.PostRequest,
    PostRequest: { Token: { E: token.epoch, T: toBase64(token.input), MAC: toBase64(token.mac) }, EGM: egmJSON(message) },
  });
}

export function encodeReplayRequest(since?: Uint8Array): Uint8Array {
  return encodeJSON({ MessageType: MessageType.ReplayRequest, ReplayRequest: { LastCommit: since === undefined ? '' : toBase64(since) } });
}

export function encodeBucketRequest(fromBucket: number): Uint8Array {
  return encodeJSON({ MessageType: MessageType.BucketRequest, BucketRequest: { From: fromBucket } });
}

export function encodePing(): Uint8Array {
  return encodeJSON({ MessageType: MessageType.Ping, Ping: {} });
}

export function encodeRenewRequest(solution?: Uint8Array): Uint8Array {
  return encodeJSON({ MessageType: MessageType.Renew, Renew: { Solution: solution === undefined ? null : toBase64(solution) } });
}

// ---------------------------------------------------------------------------------------------
// Board → client.
// ---------------------------------------------------------------------------------------------

export function encodePostResult(result: { ok: true } | { ok: false; code: PostFailureCode }): Uint8Array {
  return encodeJSON({
    MessageType: MessageType.PostResult,
    PostResult: result.ok ? { Success: true } : { Success: false, Code: result.code },
  });
}

export function encodeReplayResult(count: number): Uint8Array {
  return encodeJSON({ MessageType: MessageType.ReplayResult, ReplayResult: { NumMessages: count } });
}

/** `bucket`: where the client's next fetch starts; every message not sent before this answer is filed there or later. */
export function encodeBucketResult(count: number, bucket: number): Uint8Array {
  return encodeJSON({ MessageType: MessageType.BucketResult, BucketResult: { NumMessages: count, Bucket: bucket } });
}

/** [S] During a replay the messages follow the ReplayResult as bare EGM objects. */
export function encodeBareMessage(message: EncryptedGroupMessage): Uint8Array {
  return encodeJSON(egmJSON(message));
}

export function encodeNewMessage(message: EncryptedGroupMessage): Uint8Array {
  return encodeJSON({ MessageType: MessageType.NewMessage, NewMessage: { EGM: egmJSON(message) } });
}

/**
 * A session that fetched by bucket hears, with every pong, the bucket its next fetch may start
 * from (every message not pushed before the pong is filed there or later), so its cursor moves
 * on while it only listens. Other sessions get Cwtch-era empty pongs.
 */
export function encodePong(bucket?: number): Uint8Array {
  return encodeJSON({ MessageType: MessageType.Pong, Pong: bucket === undefined ? {} : { Bucket: bucket } });
}

/** The board's answer to a Renew: renewed or not (with a code if a solution was refused), and the challenge to solve next. */
export interface RenewOutcome {
  readonly renewed: boolean;
  readonly code?: RenewalFailureCode;
  readonly challenge: Uint8Array;
  readonly bits: number;
}

export function encodeRenewResult(outcome: RenewOutcome): Uint8Array {
  return encodeJSON({
    MessageType: MessageType.RenewResult,
    RenewResult: {
      Renewed: outcome.renewed,
      ...(outcome.code === undefined ? {} : { Code: outcome.code }),
      Challenge: toBase64(outcome.challenge),
      Bits: outcome.bits,
    },
  });
}

const BoardResponseSchema = z.discriminatedUnion('MessageType', [
  z.strictObject({
    MessageType: z.literal(MessageType.PostResult),
    PostResult: z.union([z.strictObject({ Success: z.literal(true) }), z.strictObject({ Success: z.literal(false), Code: z.enum(POST_FAILURE_CODES) })]),
  }),
  z.strictObject({
    MessageType: z.literal(MessageType.ReplayResult),
    ReplayResult: z.strictObject({ NumMessages: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  }),
  z.strictObject({
    MessageType: z.literal(MessageType.BucketResult),
    BucketResult: z.strictObject({ NumMessages: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), Bucket: BucketIndex }),
  }),
  z.strictObject({ MessageType: z.literal(MessageType.NewMessage), NewMessage: z.strictObject({ EGM: EgmSchema }) }),
  z.strictObject({ MessageType: z.literal(MessageType.Pong), Pong: z.strictObject({ Bucket: BucketIndex.optional() }) }),
  z.strictObject({
    MessageType: z.literal(MessageType.RenewResult),
    RenewResult: z.union([
      z.strictObject({ Renewed: z.literal(true), Challenge: base64Bytes(RENEWAL_CHALLENGE_SIZE), Bits: z.number().int().min(0).max(32) }),
      z.strictObject({
        Renewed: z.literal(false),
        Code: z.enum(RENEWAL_FAILURE_CODES).optional(),
        Challenge: base64Bytes(RENEWAL_CHALLENGE_SIZE),
        Bits: z.number().int().min(0).max(32),
      }),
    ]),
  }),
]);

export type BoardResponse =
  | { readonly kind: 'postResult'; readonly ok: true }
  | { readonly kind: 'postResult'; readonly ok: false; readonly code: PostFailureCode }
  | { readonly kind: 'replayResult'; readonly count: number }
  | { readonly kind: 'bucketResult'; readonly count: number; readonly bucket: number }
  | { readonly kind: 'newMessage'; readonly message: EncryptedGroupMessage }
  | { readonly kind: 'pong'; readonly bucket?: number }
  | ({ readonly kind: 'renewResult' } & RenewOutcome);

const responseError = (reason: string, cause?: unknown) => new MalformedResponseError(reason, { cause });

/** Client side: parse one envelope from the board. */
export function parseBoardResponse(payload: Uint8Array): BoardResponse {
  const response = decodeJSON(payload, BoardResponseSchema, responseError);
  switch (response.MessageType) {
    case MessageType.PostResult: {
      const r = response.PostResult;
      return r.Success ? { kind: 'postResult', ok: true } : { kind: 'postResult', ok: false, code: r.Code };
    }
    case MessageType.ReplayResult:
      return { kind: 'replayResult', count: response.ReplayResult.NumMessages };
    case MessageType.NewMessage: {
      const { EGM } = response.NewMessage;
      return { kind: 'newMessage', message: { ciphertext: EGM.Ciphertext, signature: EGM.Signature } };
    }
    case MessageType.BucketResult:
      return { kind: 'bucketResult', count: response.BucketResult.NumMessages, bucket: response.BucketResult.Bucket };
    case MessageType.Pong:
      return response.Pong.Bucket === undefined ? { kind: 'pong' } : { kind: 'pong', bucket: response.Pong.Bucket };
    case MessageType.RenewResult: {
      const r = response.RenewResult;
      const base = { kind: 'renewResult' as const, renewed: r.Renewed, challenge: r.Challenge, bits: r.Bits };
      return !r.Renewed && r.Code !== undefined ? { ...base, code: r.Code } : base;
    }
  }
}

/** Client side: one of the bare EGMs that follow a ReplayResult. */
export function parseBareMessage(payload: Uint8Array): EncryptedGroupMessage {
  const egm = decodeJSON(payload, EgmSchema, responseError);
  return { ciphertext: egm.Ciphertext, signature: egm.Signature };
}
