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
} as const;

/**
 * [O] Why a post failed, sent as `PostResult.Code` beside `Success: false` (Cwtch only sends
 * the boolean; a code lets clients tell a spent token from a relay-side failure).
 */
export const POST_FAILURE_CODES = ['TOKEN_INVALID', 'TOKEN_SPENT', 'STORE_FAILED'] as const;
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

/** Capability the board grants a connection once its replay is done and live pushes flow. [D] */
export const BOARD_SYNCED_CAPABILITY = 'CwtchServerSyncedCapability';

// ---------------------------------------------------------------------------------------------
// Signed key bundle (what a group invite carries to name a relay).
// ---------------------------------------------------------------------------------------------

/** [R] Key-type strings of Cwtch's KeyBundle. */
export const KEY_BUNDLE_KEYS = {
  boardOnion: 'bulletin_board_onion',
  tokenOnion: 'token_service_onion',
  tokenPublicKey: 'privacy_pass_public_key',
} as const;
/** [S] Export prefix: `server:` + base64(JSON(bundle)). */
export const KEY_BUNDLE_PREFIX = 'server:';
/**
 * [O] The bundle signature (ed25519 by the board identity) covers
 * canonicalEncode({context: KEY_BUNDLE_CONTEXT, keys: {<key type>: value…}}) with the public
 * key as raw bytes. (Cwtch signs Go-JSON bytes [R]; canonical CBOR has one encoding per value.)
 */
export const KEY_BUNDLE_CONTEXT = 'pursuance-relay/key-bundle/v1';
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
export const BOARD_PAYLOAD_LIMIT = MAX_SEALED_PAYLOAD; // 8150, board runs after auth
export const TOKEN_PAYLOAD_LIMIT = MAX_PLAIN_PAYLOAD; // 8190, token service is unencrypted at tapir level
