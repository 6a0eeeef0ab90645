import { randomBytes, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { equalBytes } from './bytes.js';
import { privateKeyObjectFromSeed, publicKeyFromSeed, signWithKeyObject, verifySignature, ED25519_SEED_LENGTH } from './ed25519.js';
import { InvalidKeyError } from './errors.js';
import { openWithPassword, sealWithPassword, type PasswordSealed, type ScryptParams } from './kdf.js';
import { onionFromPublicKey, type OnionName } from './onion.js';
import { sha512 } from './hash.js';
import { x25519PrivateKeyObject, x25519PublicFromEd25519, x25519SecretFromEd25519Seed, x25519WithKeyObject } from './x25519.js';

/**
 * An ed25519 identity: a person, a relay service, or a throwaway session key. Its address is
 * the Tor v3 onion name of its public key. The seed never leaves this object except through
 * `sealWithPassword` (encrypted) and `torExpandedSecretKey` (for tor's ADD_ONION); it is
 * redacted from JSON and util.inspect so it cannot end up in a log by accident.
 */
export class Identity {
  readonly #seed: Uint8Array;
  readonly #signingKey: KeyObject;
  public readonly publicKey: Uint8Array;
  public readonly onion: OnionName;
  #x25519Key: KeyObject | undefined;
  #x25519Public: Uint8Array | undefined;

  private constructor(seed: Uint8Array) {
    if (seed.length !== ED25519_SEED_LENGTH) throw new InvalidKeyError('an ed25519 seed is 32 bytes');
    this.#seed = new Uint8Array(seed);
    this.#signingKey = privateKeyObjectFromSeed(this.#seed);
    this.publicKey = publicKeyFromSeed(this.#seed);
    this.onion = onionFromPublicKey(this.publicKey);
  }

  public static generate(): Identity {
    const seed = new Uint8Array(randomBytes(ED25519_SEED_LENGTH));
    try {
      return new Identity(seed);
    } finally {
      seed.fill(0);
    }
  }

  public static fromSeed(seed: Uint8Array): Identity {
    return new Identity(seed);
  }

  public sign(message: Uint8Array): Uint8Array {
    return signWithKeyObject(this.#signingKey, message);
  }

  public verify(message: Uint8Array, signature: Uint8Array): boolean {
    return verifySignature(message, signature, this.publicKey);
  }

  /** X25519 secret scalar derived from the ed25519 seed (for lockboxes opened with tweetnacl). */
  public x25519SecretKey(): Uint8Array {
    return x25519SecretFromEd25519Seed(this.#seed);
  }

  /**
   * X25519 between this identity's converted key and a peer's X25519 public key. Keeps the
   * private KeyObject cached here, so repeated exchanges (a relay's many handshakes) are cheap
   * and the scalar never leaves the object.
   */
  public diffieHellman(peerX25519Public: Uint8Array): Uint8Array {
    if (this.#x25519Key === undefined) {
      const scalar = x25519SecretFromEd25519Seed(this.#seed);
      this.#x25519Key = x25519PrivateKeyObject(scalar);
      scalar.fill(0);
    }
    return x25519WithKeyObject(this.#x25519Key, peerX25519Public);
  }

  public x25519PublicKey(): Uint8Array {
    this.#x25519Public ??= x25519PublicFromEd25519(this.publicKey);
    return new Uint8Array(this.#x25519Public);
  }

  /**
   * tor's 64-byte "expanded" ed25519 secret key for `ADD_ONION ED25519-V3:`: SHA-512(seed)
   * with the scalar half clamped (rend-spec-v3 / tor's hs_ed25519_secret_key body). tor
   * silently accepts an unclamped blob and serves a different address, so this must be exact.
   */
  public torExpandedSecretKey(): Uint8Array {
    const h = sha512(this.#seed);
    h[0] = h[0]! & 248;
    h[31] = (h[31]! & 127) | 64;
    return h;
  }

  public sameAs(other: Identity): boolean {
    return equalBytes(this.publicKey, other.publicKey);
  }

  /** Encrypt the seed under a password for storage at rest. */
  public sealWithPassword(password: string, params?: ScryptParams): Promise<PasswordSealed> {
    return sealWithPassword(password, this.#seed, params);
  }

  public static async openWithPassword(password: string, sealed: PasswordSealed): Promise<Identity> {
    const seed = await openWithPassword(password, sealed);
    try {
      return new Identity(seed);
    } finally {
      seed.fill(0);
    }
  }

  public toJSON(): { onion: string } {
    return { onion: this.onion };
  }

  public toString(): string {
    return `Identity(${this.onion})`;
  }

  public [inspect.custom](): string {
    return this.toString();
  }
}
