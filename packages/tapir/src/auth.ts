import { CryptoError, Identity, concatBytes, equalBytes, hkdfSha256, onionFromPublicKey, toBase64, x25519PublicFromEd25519 } from '@pursuance/crypto';
import { base64Bytes, decodeJSON, encodeJSON } from '@pursuance/codec';
import { z } from 'zod';
import type { Application } from './application.js';
import type { SessionKeys } from './channel-cipher.js';
import type { Connection } from './connection.js';
import { HandshakeInvalidError, IdentityMismatchError, TranscriptMismatchError } from './errors.js';
import {
  AUTHENTICATION_CAPABILITY,
  AUTH_COMMITMENT,
  AUTH_INBOUND_CHALLENGE,
  AUTH_INBOUND_HOSTNAME,
  AUTH_OUTBOUND_CHALLENGE,
  AUTH_OUTBOUND_HOSTNAME,
  AUTH_PROTOCOL_LABEL,
  COMMITMENT_SIZE,
  SESSION_KEYS_CHALLENGE,
  SESSION_KEY_INBOUND_INFO,
  SESSION_KEY_OUTBOUND_INFO,
} from './wire-profile.js';

const key32 = base64Bytes(32);

/** [R] The one plaintext handshake message each side sends (Cwtch's AuthMessage shape). */
export const AuthMessageSchema = z.strictObject({
  LongTermPublicKey: key32,
  EphemeralPublicKey: key32,
});

/** Parse a peer's handshake message; any defect is a HandshakeInvalidError. */
export function parseAuthMessage(payload: Uint8Array): { longTerm: Uint8Array; ephemeral: Uint8Array } {
  const message = decodeJSON(payload, AuthMessageSchema, (reason, cause) => new HandshakeInvalidError(`auth message: ${reason}`, { cause }));
  return { longTerm: message.LongTermPublicKey, ephemeral: message.EphemeralPublicKey };
}

function montgomery(edPublic: Uint8Array, what: string): Uint8Array {
  try {
    return x25519PublicFromEd25519(edPublic);
  } catch (cause) {
    throw new HandshakeInvalidError(`${what} is not a valid ed25519 key`, { cause });
  }
}

function dh(identity: Identity, pub: Uint8Array): Uint8Array {
  try {
    return identity.diffieHellman(pub);
  } catch (cause) {
    if (cause instanceof CryptoError) throw new HandshakeInvalidError(`key exchange refused: ${cause.message}`, { cause });
    throw cause;
  }
}

/**
 * The session's two keys from the 3DH results (`secret`, their concatenation in the order
 * loEi ‖ liEo ‖ eoEi) and the transcript's binding challenge; see wire-profile.ts.
 */
export function deriveSessionKeys(secret: Uint8Array, binding: Uint8Array, outbound: boolean): SessionKeys {
  const diallerToService = hkdfSha256(secret, binding, SESSION_KEY_OUTBOUND_INFO, 32);
  const serviceToDialler = hkdfSha256(secret, binding, SESSION_KEY_INBOUND_INFO, 32);
  return outbound ? { send: diallerToService, receive: serviceToDialler } : { send: serviceToDialler, receive: diallerToService };
}

/**
 * Mutual authentication by triple Diffie-Hellman (Tapir's AuthApp):
 *  1. each side sends {LongTermPublicKey, EphemeralPublicKey} in the clear (one round trip);
 *  2. the dialler checks the peer's long-term key is the onion it dialled — this is what makes
 *     the ACN untrusted: a wrong or hijacked route cannot impersonate the destination;
 *  3. two session keys, one per direction, by HKDF from DH(Lo, Ei) ‖ DH(Li, Eo) ‖ DH(Eo, Ei)
 *     (o = outbound, i = inbound) salted with a challenge of the transcript so far (admission,
 *     both hostnames, both handshake messages): only someone holding the claimed long-term
 *     secret AND this session's ephemeral secret can derive them, a replayed handshake meets a
 *     fresh ephemeral and gets other keys, and peers whose transcripts differ get other keys;
 *  4. from then on packets are sealed with counter nonces; each side sends a Merlin commitment
 *     to the transcript (key confirmation) and requires the peer's to be identical.
 * No signatures are made, so a transcript proves nothing to third parties (deniability).
 */
export class AuthApp implements Application {
  public readonly name = 'auth';
  public readonly capability = AUTHENTICATION_CAPABILITY;

  public async run(conn: Connection): Promise<void> {
    conn.transcript.newProtocol(AUTH_PROTOCOL_LABEL);
    const local = conn.localIdentity;
    const ephemeral = Identity.generate();
    const ourMessage = encodeJSON({ LongTermPublicKey: toBase64(local.publicKey), EphemeralPublicKey: toBase64(ephemeral.publicKey) });
    await conn.send(ourMessage);
    const theirMessage = await conn.expect();
    const theirs = parseAuthMessage(theirMessage);

    if (equalBytes(theirs.ephemeral, ephemeral.publicKey) || equalBytes(theirs.ephemeral, theirs.longTerm)) {
      throw new HandshakeInvalidError('ephemeral key reflected or reused');
    }
    const remoteOnion = onionFromPublicKey(theirs.longTerm);
    if (conn.outbound && conn.expectedRemote !== undefined && remoteOnion !== conn.expectedRemote) {
      throw new IdentityMismatchError(conn.expectedRemote, remoteOnion);
    }

    const theirLongTermX = montgomery(theirs.longTerm, 'long-term key');
    const theirEphemeralX = montgomery(theirs.ephemeral, 'ephemeral key');
    // Each side computes the same three values; only the roles of "ours" and "theirs" swap.
    const loEi = conn.outbound ? dh(local, theirEphemeralX) : dh(ephemeral, theirLongTermX);
    const liEo = conn.outbound ? dh(ephemeral, theirLongTermX) : dh(local, theirEphemeralX);
    const eoEi = dh(ephemeral, theirEphemeralX);
    const [outboundOnion, inboundOnion] = conn.outbound ? [local.onion, remoteOnion] : [remoteOnion, local.onion];
    const [outboundMessage, inboundMessage] = conn.outbound ? [ourMessage, theirMessage] : [theirMessage, ourMessage];
    conn.transcript.add(AUTH_OUTBOUND_HOSTNAME, outboundOnion);
    conn.transcript.add(AUTH_INBOUND_HOSTNAME, inboundOnion);
    conn.transcript.add(AUTH_OUTBOUND_CHALLENGE, outboundMessage);
    conn.transcript.add(AUTH_INBOUND_CHALLENGE, inboundMessage);

    const secret = concatBytes(loEi, liEo, eoEi);
    for (const part of [loEi, liEo, eoEi]) part.fill(0);
    const keys = deriveSessionKeys(secret, conn.transcript.commit(SESSION_KEYS_CHALLENGE, 32), conn.outbound);
    secret.fill(0);
    conn.setSessionKeys(keys);
    keys.send.fill(0);
    keys.receive.fill(0);

    const commitment = conn.transcript.commit(AUTH_COMMITMENT, COMMITMENT_SIZE);

    await conn.send(commitment);
    const theirCommitment = await conn.expect();
    if (!equalBytes(theirCommitment, commitment)) throw new TranscriptMismatchError();

    conn.setRemoteOnion(remoteOnion);
    conn.grantCapability(this.capability);
  }
}
