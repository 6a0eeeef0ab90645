/**
 * Every byte-level choice of the cwtch peer in one place, so a correction (e.g. once Go Cwtch's
 * exact bytes can be checked) is a one-file change. Tags per PROTOCOL.md: [S] read in source,
 * [D] documented, [R] recollection, [O] our own choice. Wire compatibility with Go Cwtch is NOT
 * claimed.
 */
import { GROUP_CIPHERTEXT_SIZE, GROUP_PADDED_PLAINTEXT_SIZE, GROUP_SIGNATURE_SIZE } from '@pursuance/relay';

export { GROUP_CIPHERTEXT_SIZE, GROUP_PADDED_PLAINTEXT_SIZE, GROUP_SIGNATURE_SIZE };

// ---------------------------------------------------------------------------------------------
// Peer-to-peer channel (PeerApp): one JSON PeerMessage per sealed tapir packet, after AuthApp.
// ---------------------------------------------------------------------------------------------

/** [D] PeerMessage JSON field names: `{"ID": string, "Context": string, "Data": base64}`. */
export const PEER_MESSAGE_FIELDS = { id: 'ID', context: 'Context', data: 'Data' } as const;

/** [D] Contexts of Cwtch's PeerApp, and [O] our group-repair contexts. */
export const PEER_CONTEXT = {
  raw: 'im.cwtch.raw',
  ack: 'im.cwtch.acknowledgement',
  getVal: 'im.cwtch.getVal',
  retVal: 'im.cwtch.retVal',
  /** [D] Sent by V2-capable peers; we never advertise V2 and ignore it (stay on V1 JSON). */
  version: 'im.cwtch.version',
  /** [O] Ask a member for group messages by signature (gap repair). */
  groupSyncRequest: 'im.cwtch.group.sync.request',
  /** [O] One requested group message: Data = ciphertext ‖ signature. ID = the request's ID. */
  groupSyncMessage: 'im.cwtch.group.sync.message',
  /** [O] End of the answer to one request. ID = the request's ID. */
  groupSyncEnd: 'im.cwtch.group.sync.end',
} as const;

/** [O] Message ids: 1–64 characters from [A-Za-z0-9_-]; we make 32 hex characters. */
export const MAX_PEER_MESSAGE_ID_LENGTH = 64;
export const MAX_PEER_CONTEXT_LENGTH = 64;
/** [O] Largest Data we accept or send in one PeerMessage (base64 + JSON must fit MAX_PEER_MESSAGE_BYTES). */
export const MAX_PEER_MESSAGE_DATA = 5800;

/** [D] getVal/retVal JSON field names. */
export const GET_VAL_FIELDS = { scope: 'Scope', path: 'Path' } as const;
export const RET_VAL_FIELDS = { value: 'Val', exists: 'Exists' } as const;
/** [D] Scope of attributes any peer may read; [O] the path of the display name. */
export const PUBLIC_SCOPE = 'public';
export const DISPLAY_NAME_PATH = 'name';
export const MAX_ATTRIBUTE_PATH_LENGTH = 128;
export const MAX_ATTRIBUTE_VALUE_LENGTH = 2048;

// ---------------------------------------------------------------------------------------------
// Overlays: JSON `{"o": int, "d": string}` inside im.cwtch.raw and inside group payloads.
// ---------------------------------------------------------------------------------------------

export const OVERLAY = {
  /** [S] chat text */
  chat: 1,
  /** [S] quoted reply */
  quotedReply: 10,
  /** [S] suggest a contact */
  suggestContact: 100,
  /** [S] group invite */
  groupInvite: 101,
  /** [O] group moved: a signed group message carrying the invite to the group's new home. */
  groupMove: 102,
  /** [O] reserved for the pursuance layer (later issues). */
  pursuance: 1000,
  /** [O] a newcomer asks an inviting node to let it join a pursuance (a join link's one-time secret). */
  pursuanceJoinRequest: 1001,
  /** [O] the inviting node's answer to a join request (pending, approved, refused with a code). */
  pursuanceJoinReply: 1002,
  /** [O] a new member asks a member's node for an attested snapshot of a pursuance to start from. */
  pursuanceSnapshotRequest: 1003,
  /** [O] one part of the answer (the snapshot bundle, cut to fit a message), or a refusal. */
  pursuanceSnapshotPart: 1004,
} as const;
export const MAX_OVERLAY_TYPE = 0xffff;

// ---------------------------------------------------------------------------------------------
// Groups: ids, invites.
// ---------------------------------------------------------------------------------------------

/** [D] A group key is 32 random bytes (secretbox key). */
export const GROUP_KEY_SIZE = 32;
/** [S] Group ids are 32 hex characters (16 bytes). */
export const GROUP_ID_SIZE = 16;
/**
 * [O] GroupID = hex(HMAC-SHA-256(key = group key, GROUP_ID_LABEL ‖ relay ed25519 public key)[0..16]).
 * Cwtch uses PBKDF2 over the same two inputs [D binding, R parameters]; with a uniformly random
 * 32-byte key a slow KDF adds nothing, and HMAC keeps the binding to key AND relay.
 */
export const GROUP_ID_LABEL = 'cwtch/group-id/v1';
/**
 * [O] A group's first message points at this value instead of a signature:
 * SHA-512(GROUP_GENESIS_LABEL ‖ group id bytes) — 64 bytes, like a signature, so the field
 * has one size.
 */
export const GROUP_GENESIS_LABEL = 'cwtch/group-genesis/v1';
/** [S] Group invite strings start with this after the bundle part. */
export const GROUP_INVITE_PREFIX = 'torv3';
/** [S] `tofubundle:` + exported relay bundle + `||` + invite. */
export const TOFU_BUNDLE_PREFIX = 'tofubundle:';
export const INVITE_SEPARATOR = '||';
/** [D] CurrentGroupVersion. */
export const GROUP_INVITE_VERSION = 4;
/** [O] Longest invite string accepted (a real one with 50 members is ~4.5 KB). */
export const MAX_INVITE_LENGTH = 5000;
export const MAX_GROUP_NAME_LENGTH = 128;
/** [O] Longest member list an invite may carry. */
export const MAX_GROUP_MEMBERS = 50;

// ---------------------------------------------------------------------------------------------
// Group messages.
// ---------------------------------------------------------------------------------------------

/** [O] Version field of the group plaintext. */
export const GROUP_ENVELOPE_VERSION = 1;
/**
 * [O] Plaintext = canonical CBOR map {v, s: sender onion, t: ms timestamp, p: previous signature
 * (64 bytes), d: payload, f?: {m: fragment id, i: index, n: count, l: total length}},
 * padded (u32 length ‖ bytes ‖ zeros) to GROUP_PADDED_PLAINTEXT_SIZE, then sealed with
 * secretbox (random nonce ‖ box) under the group key: exactly GROUP_CIPHERTEXT_SIZE bytes.
 */
export const GROUP_PLAINTEXT_FIELDS = { version: 'v', sender: 's', timestamp: 't', previous: 'p', payload: 'd', fragment: 'f' } as const;
export const FRAGMENT_FIELDS = { id: 'm', index: 'i', count: 'n', length: 'l' } as const;
/**
 * [O] Largest payload one group message carries (checked by a test to fit with the largest
 * header values). Bigger payloads are split into fragments of this size.
 */
export const MAX_GROUP_PAYLOAD_PER_MESSAGE = 3800;
/** [O] A fragmented payload has 2..MAX_FRAGMENTS parts (≈ 970 KB at most). */
export const MAX_FRAGMENTS = 256;
export const FRAGMENT_ID_SIZE = 16;
export const MAX_GROUP_PAYLOAD = MAX_GROUP_PAYLOAD_PER_MESSAGE * MAX_FRAGMENTS;
/**
 * [D concept, R resolved] The sender signs UTF-8(group id hex) ‖ UTF-8(relay onion) ‖ raw
 * ciphertext bytes (PROTOCOL.md §3.5 leaves raw-vs-base64 open; we sign the raw bytes).
 */
export const GROUP_SIGNATURE_PARTS = ['groupIdHex', 'relayOnion', 'ciphertext'] as const;

/** [O] Signatures asked for in one repair request. */
export const MAX_REPAIR_SIGNATURES_PER_REQUEST = 32;
/** [O] Data of a group-sync message: ciphertext ‖ signature. */
export const GROUP_SYNC_MESSAGE_SIZE = GROUP_CIPHERTEXT_SIZE + GROUP_SIGNATURE_SIZE;

// ---------------------------------------------------------------------------------------------
// Delivery policy. [O]
// ---------------------------------------------------------------------------------------------

export interface RetryPolicy {
  /** Delay after the first failed attempt. */
  readonly baseMs: number;
  /** Delays never exceed this. */
  readonly maxMs: number;
  /** ± this fraction of random jitter, so many queued peers do not retry in lockstep. */
  readonly jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ baseMs: 2_000, maxMs: 5 * 60_000, jitter: 0.2 });
/** How long a sent direct message waits for its acknowledgement before it counts as failed. */
export const DEFAULT_ACK_TIMEOUT_MS = 20_000;
/** How long a getVal or repair request waits for its answer. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 20_000;
/** Relay sessions are re-opened after failures with this policy. */
export const DEFAULT_RELAY_RETRY_POLICY: RetryPolicy = Object.freeze({ baseMs: 1_000, maxMs: 60_000, jitter: 0.2 });
/** Repair rounds per gap-repair run (each round may reveal older gaps behind repaired messages). */
export const MAX_REPAIR_ROUNDS = 16;

/**
 * [O] How far a relay's clock may be from ours when buckets are judged: a frontier a relay names
 * beyond our clock's bucket by more is not kept, and a new group's start bucket is taken this
 * much before our clock's.
 */
export const RELAY_CLOCK_SKEW_MS = 10 * 60_000;
