/** The part of sodium-native (libsodium bindings, no types of its own) that the crypto package uses (tapir declares its own copy: ambient declarations do not travel with dist/). */
declare module 'sodium-native' {
  const sodium: {
    readonly crypto_secretbox_KEYBYTES: number;
    readonly crypto_secretbox_NONCEBYTES: number;
    readonly crypto_secretbox_MACBYTES: number;
    /** c = tag ‖ ciphertext; c.byteLength must be m.byteLength + MACBYTES. */
    crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
    /** false when the tag does not verify (m is then left unspecified). */
    crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
  };
  export default sodium;
}
