/**
 * Typed errors of the tapir package, each with a stable `code`. A connection that fails for
 * any of these reasons is closed; the error says why (never with key material or payloads).
 */
export type TapirErrorCode =
  | 'ACN_UNREACHABLE'
  | 'ACN_TIMEOUT'
  | 'ACN_CONTROL'
  | 'ACN_CONFIG'
  | 'ACN_CLOSED'
  | 'FRAME_INVALID'
  | 'FRAME_TOO_LARGE'
  | 'DECRYPTION_FAILED'
  | 'PACKET_REPLAYED'
  | 'PACKET_REORDERED'
  | 'PACKET_REFLECTED'
  | 'COUNTER_EXHAUSTED'
  | 'CONNECTION_CLOSED'
  | 'HANDSHAKE_INVALID'
  | 'IDENTITY_MISMATCH'
  | 'TRANSCRIPT_MISMATCH'
  | 'HANDSHAKE_TIMEOUT'
  | 'CAPABILITY_MISSING'
  | 'PROOF_OF_WORK_INVALID'
  | 'PROOF_OF_WORK_TOO_HARD'
  | 'PROTOCOL_VIOLATION'
  | 'TOO_MANY_CONNECTIONS'
  | 'CONNECTION_EVICTED'
  | 'IDLE_TIMEOUT'
  | 'WIRE_VERSION_UNSUPPORTED'
  | 'TOR_CONFIG'
  | 'TOR_NOT_FOUND'
  | 'TOR_LAUNCH'
  | 'TOR_BOOTSTRAP_TIMEOUT'
  | 'TOR_ABORTED';

export class TapirError extends Error {
  public readonly code: TapirErrorCode;
  public constructor(code: TapirErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The onion name is not published, or the stream could not be opened. */
export class AcnUnreachableError extends TapirError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('ACN_UNREACHABLE', message, options);
  }
}

/** Opening a stream or publishing a service took longer than allowed. */
export class AcnTimeoutError extends TapirError {
  public constructor(message: string) {
    super('ACN_TIMEOUT', message);
  }
}

/** The tor control port refused a command or answered something unexpected. */
export class AcnControlError extends TapirError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('ACN_CONTROL', message, options);
  }
}

/** A network setting (a tor port, say) is malformed; nothing was opened. */
export class AcnConfigError extends TapirError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('ACN_CONFIG', message, options);
  }
}

/** The ACN was closed while an operation was under way. */
export class AcnClosedError extends TapirError {
  public constructor(message = 'the ACN is closed') {
    super('ACN_CLOSED', message);
  }
}

/** A packet's framing is malformed (wrong size, bad length prefix, non-zero padding). */
export class FrameInvalidError extends TapirError {
  public constructor(message: string) {
    super('FRAME_INVALID', message);
  }
}

/** A payload does not fit in one packet. */
export class FrameTooLargeError extends TapirError {
  public constructor(message: string) {
    super('FRAME_TOO_LARGE', message);
  }
}

/** A sealed packet failed authentication: tampered, from another session, or under a wrong key. */
export class PacketDecryptionError extends TapirError {
  public constructor() {
    super('DECRYPTION_FAILED', 'packet failed authenticated decryption');
  }
}

/** A sealed packet of this session that is not the next one: `counter` came where `expected` was due. */
abstract class PacketOutOfSequenceError extends TapirError {
  public readonly expected: number;
  public readonly counter: number;
  protected constructor(code: 'PACKET_REPLAYED' | 'PACKET_REORDERED', message: string, expected: number, counter: number) {
    super(code, message);
    this.expected = expected;
    this.counter = counter;
  }
}

/** A sealed packet this session already delivered arrived again. */
export class PacketReplayedError extends PacketOutOfSequenceError {
  public constructor(expected: number, counter: number) {
    super('PACKET_REPLAYED', `expected packet ${expected}, received a copy of packet ${counter}`, expected, counter);
  }
}

/** A sealed packet of this session arrived before the ones sent ahead of it. */
export class PacketReorderedError extends PacketOutOfSequenceError {
  public constructor(expected: number, counter: number) {
    super('PACKET_REORDERED', `expected packet ${expected}, received packet ${counter} out of order`, expected, counter);
  }
}

/** One of our own sealed packets came back to us. */
export class PacketReflectedError extends TapirError {
  public readonly counter: number;
  public constructor(counter: number) {
    super('PACKET_REFLECTED', `received our own packet ${counter} back`);
    this.counter = counter;
  }
}

/** A direction of the session reached its last packet counter; a nonce is never reused. */
export class CounterExhaustedError extends TapirError {
  public constructor(direction: 'send' | 'receive') {
    super('COUNTER_EXHAUSTED', `the session's ${direction} counter is exhausted`);
  }
}

/** The connection was closed (by the peer, by us, or after an error). */
export class ConnectionClosedError extends TapirError {
  public constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super('CONNECTION_CLOSED', message, options);
  }
}

/** A handshake message is malformed or carries invalid keys. */
export class HandshakeInvalidError extends TapirError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('HANDSHAKE_INVALID', message, options);
  }
}

/** The peer proved a different identity from the onion name we dialled. */
export class IdentityMismatchError extends TapirError {
  public constructor(expected: string, actual: string) {
    super('IDENTITY_MISMATCH', `dialled ${expected} but the peer is ${actual}`);
  }
}

/** The two sides' transcript commitments differ: the handshake was tampered with. */
export class TranscriptMismatchError extends TapirError {
  public constructor() {
    super('TRANSCRIPT_MISMATCH', 'transcript commitments differ');
  }
}

/** The peer did not finish the handshake (or an application step) in time. */
export class HandshakeTimeoutError extends TapirError {
  public constructor(ms: number) {
    super('HANDSHAKE_TIMEOUT', `handshake not completed within ${ms} ms`);
  }
}

/** An application in a chain ran without granting the capability the next one needs. */
export class CapabilityMissingError extends TapirError {
  public constructor(capability: string) {
    super('CAPABILITY_MISSING', `connection lacks capability ${capability}`);
  }
}

/** A proof-of-work solution does not meet the difficulty. */
export class ProofOfWorkInvalidError extends TapirError {
  public constructor(message = 'proof of work does not meet the difficulty') {
    super('PROOF_OF_WORK_INVALID', message);
  }
}

/** The server asked for more proof of work than this client is willing to do. */
export class ProofOfWorkTooHardError extends TapirError {
  public constructor(asked: number, limit: number) {
    super('PROOF_OF_WORK_TOO_HARD', `server asks ${asked} bits of work, limit is ${limit}`);
  }
}

/** The peer sent a message the current application does not accept. */
export class ProtocolViolationError extends TapirError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('PROTOCOL_VIOLATION', message, options);
  }
}

/** The service is at its connection limit. */
export class TooManyConnectionsError extends TapirError {
  public constructor(limit: number) {
    super('TOO_MANY_CONNECTIONS', `connection limit of ${limit} reached`);
  }
}

/**
 * Why a full service dropped a connection to make room for a newcomer. `unpaid`: one still in
 * admission (it had not presented proof of work), dropped before any that had.
 */
export type EvictionReason = 'pending' | 'idle' | 'unpaid';

/**
 * The service was full and dropped this connection for a newcomer: the oldest one still in its
 * handshake (`pending`), or the established one least recently active (`idle`). Refusing the
 * newcomer instead would let a few idle sockets lock every honest client out.
 */
export class ConnectionEvictedError extends TapirError {
  public constructor(public readonly reason: EvictionReason) {
    super(
      'CONNECTION_EVICTED',
      reason === 'idle' ? 'evicted: least recently active at the connection limit' : `evicted: oldest ${reason} handshake at the limit`,
    );
  }
}

/** An established connection did nothing its application counts as use within the idle timeout. */
export class IdleTimeoutError extends TapirError {
  public constructor(public readonly timeoutMs: number) {
    super('IDLE_TIMEOUT', `no activity within ${timeoutMs} ms`);
  }
}

/**
 * The peer speaks a tapir wire version this side does not (e.g. a version-1 peer, which sends
 * its auth message where version 2 expects the admission exchange).
 */
export class WireVersionError extends TapirError {
  public constructor(message: string) {
    super('WIRE_VERSION_UNSUPPORTED', message);
  }
}

/** A managed tor's configuration (a torrc line, a bridge line, the transport plugin) is refused;
 * the message says why and where, never the value itself (bridge lines are semi-secret). */
export class TorConfigError extends TapirError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('TOR_CONFIG', message, options);
  }
}

/** The tor binary to launch does not exist or is not executable. */
export class TorNotFoundError extends TapirError {
  public constructor(message: string) {
    super('TOR_NOT_FOUND', message);
  }
}

/** A managed tor could not be started, or exited before it was ready. */
export class TorLaunchError extends TapirError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('TOR_LAUNCH', message, options);
  }
}

/**
 * Another tor still holds the managed tor's DataDirectory lock (typically the tor of an earlier
 * run that crashed: it exits on its own once it notices its owner is gone), and it did not let
 * go within the wait. A TorLaunchError, so callers that map launch failures need no new case.
 */
export class TorDataDirectoryBusyError extends TorLaunchError {}

/** A managed tor did not finish bootstrapping in time (it has been stopped). */
export class TorBootstrapTimeoutError extends TapirError {
  public constructor(message: string) {
    super('TOR_BOOTSTRAP_TIMEOUT', message);
  }
}

/** Launching a managed tor was cancelled by the caller's AbortSignal (it has been stopped). */
export class TorAbortedError extends TapirError {
  public constructor(message = 'launching tor was aborted') {
    super('TOR_ABORTED', message);
  }
}
