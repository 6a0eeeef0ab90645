/**
 * Every byte-level choice of the relay protocol in one place, so a correction (e.g. once Go
 * Cwtch's exact bytes can be checked) is a one-file change. Tags per PROTOCOL.md: [S] read in
 * source, [D] documented, [R] recollection, [O] our own choice. Wire compatibility with Go
 * Cwtch is NOT claimed.
 */
import { MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD } from '@pursuance/tapir';

// ---------------------------------------------------------------------------------------------
// Group messages as the relay sees them: opaque (signature, ciphertext) pairs.
// ---------------------------------------------------------------------------------------------

/**
 * [O] Every group ciphertext has exactly this many bytes: nonce 24 + tag 16 + 4056 bytes of
 * padded plaintext (see GROUP_PADDED_PLAINTEXT_SIZE). The relay refuses any other length, so
 * no client can create a length signal.
 */
export const GROUP_CIPHERTEXT_SIZE = 4096;
/** [O] Plaintext a group layer pads to before secretbox (nonce 24 + tag 16 make 4096). */
export const GROUP_PADDED_PLAINTEXT_SIZE = GROUP_CIPHERTEXT_SIZE - 24 - 16;
/** [D] ed25519 signatures; the relay only checks the length (it cannot verify them). */
export const GROUP_SIGNATURE_SIZE = 64;

// ---------------------------------------------------------------------------------------------
// Privacy Pass tokens: VOPRF(ristretto255, SHA-512), RFC 9497 mode 0x01.
// ---------------------------------------------------------------------------------------------

/** [O] The RFC 9497 ciphersuite identifier. */
export const VOPRF_SUITE = 'ristretto255-SHA512';
/** [O] A token's private input t: 32 random bytes, revealed only when the token is spent. */
export const TOKEN_INPUT_SIZE = 32;
/** RFC 9497: serialized ristretto255 elements and scalars are 32 bytes; a DLEQ proof is c ‖ s. */
export const VOPRF_ELEMENT_SIZE = 32;
export const VOPRF_SCALAR_SIZE = 32;
export const VOPRF_PROOF_SIZE = 64;
/** RFC 9497: Finalize/Evaluate output = SHA-512(…), 64 bytes. */
export const VOPRF_OUTPUT_SIZE = 64;
/**
 * [O] Spend MAC: HMAC-SHA-256 keyed with the token's VOPRF output over
 *   canonicalEncode({ciphertext, signature}) ‖ UTF-8(board onion)
 * so one token authorises one exact post on one relay (Cwtch binds EGM bytes ‖ server onion [S]).
 */
export const TOKEN_MAC_SIZE = 32;
/** [R] Tokens a client asks for per purchase (Cwtch buys about 10 per proof of work). */
export const DEFAULT_TOKEN_BATCH_SIZE = 20;
/** [O] Largest batch the token service evaluates for one proof of work (fits one plain packet). */
export const MAX_TOKEN_BATCH_SIZE = 100;

// ---------------------------------------------------------------------------------------------
// Token service JSON (one object per unencrypted tapir packet, after proof of work). [R/O]
// ---------------------------------------------------------------------------------------------

/** Client → token service: `{"BlindedTokens": [base64(32), …]}`. */
export const TOKEN_REQUEST_FIELD = 'BlindedTokens';
/** Token service → client: `{"EvaluatedTokens": [base64(32), …], "Proof": base64(64)}`. */
export const TOKEN_RESPONSE_FIELD = 'EvaluatedTokens';
export const TOKEN_PROOF_FIELD = 'Proof';
// ---------------------------------------------------------------------------------------------
// Token key epochs. [O] (Cwtch has one token key for a server's life.)
// ---------------------------------------------------------------------------------------------

/** How long one token key issues (a week: a token bought on Monday still posts on Sunday). */
export const DEFAULT_TOKEN_EPOCH_SECONDS = 7 * 86_400;
/** How long after its epoch ends a token is still redeemed. */
export const DEFAULT_TOKEN_GRACE_SECONDS = 7 * 86_400;
/** Epoch keys a bundle commits to: 1024 weeks ≈ 19.6 years. A power of two. */
export const DEFAULT_TOKEN_EPOCH_COUNT = 1024;
/** The most epochs a bundle may commit to (a proof is log2(count) ≤ 16 hashes). */
export const MAX_TOKEN_EPOCH_COUNT = 65_536;
/** The shortest epoch a bundle may declare (tests use short ones; operators should not). */
export const MIN_TOKEN_EPOCH_SECONDS = 1;
/**
 * How far a client's clock may be from the relay's at an epoch boundary: within this of a
 * boundary, a batch issued under the neighbouring epoch is accepted too.
 */
export const TOKEN_EPOCH_SKEW_MS = 10 * 60_000;
/** A token whose redemption ends within this margin is not spent any more (it could arrive late). */
export const TOKEN_SPEND_MARGIN_MS = 60_000;

/** Capability a token purchase grants on the client side of the connection. */
export const TOKENS_ISSUED_CAPABILITY = 'TokensIssuedCapability';

// ---------------------------------------------------------------------------------------------
// Board protocol: Cwtch's groups.Message envelope, one JSON object per sealed tapir packet.
// ---------------------------------------------------------------------------------------------

/** [D first value, R rest] MessageType enum of the envelope. */
export const MessageType = {
  ReplayRequest: 0,
  ReplayResult: 1,
  PostRequest: 2,
  PostResult: 3,
  NewMessage: 4,
  /** [O] Client → board keepalive; Cwtch has none (it relies on tor's circuit timeouts). */
  Ping: 5,
  /** [O] Board → client answer to a Ping, sent in request order like every other answer. */
  Pong: 6,
  /** [O] Client → board: renew the session with proof of work on the board's challenge (or ask for one). */
  Renew: 7,
  /** [O] Board → client: whether the session was renewed, and the challenge for the next renewal. */
  RenewResult: 8,
  /**
   * [O] Client → board: every message filed under bucket `From` or a later one, then live
   * pushes. Unlike ReplayRequest it names nothing member-specific: a bucket index is what every
   * member of every group back from the same hour asks for alike.
   */
  BucketRequest: 9,
  /** [O] Board → client: how many messages follow (bare, as after a ReplayResult), and the bucket to fetch from next time. */
  BucketResult: 10,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** [D] Envelope field names; EncryptedGroupMessage fields; SpentToken fields. */
export const ENVELOPE_FIELDS = {
  type: 'MessageType',
  replayRequest: 'ReplayRequest',
  replayResult: 'ReplayResult',
  postRequest: 'PostRequest',
  postResult: 'PostResult',
  newMessage: 'NewMessage',
  ping: 'Ping',
  pong: 'Pong',
  renew: 'Renew',
  renewResult: 'RenewResult',
  bucketRequest: 'BucketRequest',
  bucketResult: 'BucketResult',
} as const;

/**
 * [O] Why a post failed, sent as `PostResult.Code` beside `Success: false` (Cwtch only sends
 * the boolean; a code lets clients tell a spent token from a relay-side failure).
 */
export const POST_FAILURE_CODES = ['TOKEN_INVALID', 'TOKEN_SPENT', 'TOKEN_EXPIRED', 'STORE_FAILED'] as const;
export type PostFailureCode = (typeof POST_FAILURE_CODES)[number];

// ---------------------------------------------------------------------------------------------
// Client behaviour. [O]
// ---------------------------------------------------------------------------------------------

/**
 * Posts a client keeps in flight on one board session (sent, not yet acknowledged). One post
 * per round trip costs ~300 ms each over Tor; a window lets a burst share round trips. Below
 * the board's MAX_PIPELINED_POSTS so an honest client never meets its backpressure.
 */
export const POST_WINDOW = 16;
/** A session with nothing outstanding and nothing heard for this long sends a Ping. */
export const KEEPALIVE_INTERVAL_MS = 4_000;
/**
 * A session waiting on any answer (post, replay, ping) that hears nothing at all for this long
 * is dead: the relay stopped answering while the stream stayed open (a frozen relay, a broken
 * circuit tor has not noticed yet). A dead session is detected within interval + timeout.
 */
export const KEEPALIVE_TIMEOUT_MS = 6_000;

/**
 * A session that has sent no request for this long sends a Ping, even while pushes keep
 * arriving: the board closes sessions that send nothing for its idle timeout (a live
 * subscription alone does not keep a session open), and this stays well below the default one.
 */
export const SESSION_RENEW_INTERVAL_MS = 20_000;

/**
 * [O] Bits of proof of work a session pays per renewal: SHA-256(solution ‖ SHA-256(domain ‖
 * challenge)) must start with this many zero bits. 14 bits is ~16,000 hashes: ~20 ms of one
 * core in JavaScript per renewal for an honest client (one per SESSION_RENEW_INTERVAL_MS at
 * most), while holding 10,000 idle sessions past a 60 s idle timeout costs ~2.7 M hashes/s,
 * several cores of JavaScript or about one of native code, for as long as they are held.
 */
export const DEFAULT_RENEWAL_BITS = 14;
/** [O] A client refuses a board that asks more than this per renewal (it would burn the client's CPU). */
export const MAX_RENEWAL_BITS = 20;
/** [O] Domain separation of renewal work from every other SHA-256 use. */
export const RENEWAL_POW_DOMAIN = 'pursuance-relay/session-renewal/v1';
/** [O] A renewal challenge: fresh random bytes per session, replaced on every successful renewal. */
export const RENEWAL_CHALLENGE_SIZE = 32;
export const RENEWAL_SOLUTION_SIZE = 32;
/** [O] `RenewResult.Code` when a presented solution does not meet the challenge. */
export const RENEWAL_FAILURE_CODES = ['RENEWAL_INVALID'] as const;
export type RenewalFailureCode = (typeof RENEWAL_FAILURE_CODES)[number];

/** Capability the board grants a connection once its replay is done and live pushes flow. [D] */
export const BOARD_SYNCED_CAPABILITY = 'CwtchServerSyncedCapability';

// ---------------------------------------------------------------------------------------------
// Signed key bundle (what a group invite carries to name a relay).
// ---------------------------------------------------------------------------------------------

/** [R] Key-type strings of Cwtch's KeyBundle. */
export const KEY_BUNDLE_KEYS = {
  boardOnion: 'bulletin_board_onion',
  tokenOnion: 'token_service_onion',
  tokenEpochRoot: 'token_epoch_root',
  tokenEpochStart: 'token_epoch_start',
  tokenEpochSeconds: 'token_epoch_seconds',
  tokenEpochCount: 'token_epoch_count',
  tokenGraceSeconds: 'token_grace_seconds',
  /** [O] The fetch bucket length; absent in bundles of relays from before bucketed fetch. */
  bucketSeconds: 'bucket_seconds',
} as const;
/** [R] Cwtch's single token-key entry: a bundle that still has it comes from a relay without epochs. */
export const LEGACY_TOKEN_KEY_ENTRY = 'privacy_pass_public_key';
/** [S] Export prefix: `server:` + base64(JSON(bundle)). */
export const KEY_BUNDLE_PREFIX = 'server:';
/**
 * [O] The bundle signature (ed25519 by the board identity) covers
 * canonicalEncode({context: KEY_BUNDLE_CONTEXT, keys: {<key type>: value…}}) with the public
 * key as raw bytes. (Cwtch signs Go-JSON bytes [R]; canonical CBOR has one encoding per value.)
 */
export const KEY_BUNDLE_CONTEXT = 'pursuance-relay/key-bundle/v2';
/**
 * [O] Fetch buckets: the board files every message under the bucket (whole bucket lengths
 * since the Unix epoch) of the hour it came, and members fetch whole buckets by index. The
 * length is part of the signed bundle, so every member of a group fetches the same buckets.
 * An hour by default; an operator may choose from a minute (tests) to a week.
 */
export const DEFAULT_BUCKET_SECONDS = 3_600;
export const MIN_BUCKET_SECONDS = 60;
export const MAX_BUCKET_SECONDS = 7 * 86_400;
/** Bucket indexes a request may name: up to 2^40 (a minute's buckets last two million years). */
export const MAX_BUCKET_INDEX = 2 ** 40;
/** Longest export string accepted (a real one is ~330 characters). */
export const MAX_KEY_BUNDLE_LENGTH = 2048;

// ---------------------------------------------------------------------------------------------
// Server behaviour limits. [O]
// ---------------------------------------------------------------------------------------------

/** [S] Cwtch's storage cap: maxMessages = maxStorageMB × 250 (our rows are ~4.2 KB). */
export const MESSAGES_PER_MB = 250;
/** Posts a session may have in flight before the board stops reading its requests. */
export const MAX_PIPELINED_POSTS = 64;
/** Outbound messages queued for one session before it is dropped as a slow consumer. */
export const MAX_PENDING_PUSHES = 1024;
/** Rejected spends (forged or reused tokens) before the board drops the session. */
export const MAX_FAILED_SPENDS_PER_SESSION = 8;
/** Messages read from the store per page while replaying. */
export const REPLAY_PAGE_SIZE = 256;
/**
 * The board closes a session that sent no request (post, replay or ping) for this long. Without
 * it, sessions made with throwaway identities hold connection slots forever; clients renew
 * well within it (SESSION_RENEW_INTERVAL_MS).
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** After issuing, the token service waits this long for the client to hang up. */
export const TOKEN_SERVICE_LINGER_MS = 5_000;

/** Packet budgets the JSON shapes must fit (checked by tests). */
export const BOARD_PAYLOAD_LIMIT = MAX_SEALED_PAYLOAD; // 8174, board runs after auth
export const TOKEN_PAYLOAD_LIMIT = MAX_PLAIN_PAYLOAD; // 8190, token service is unencrypted at tapir level
