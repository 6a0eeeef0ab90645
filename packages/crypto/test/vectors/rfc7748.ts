/**
 * X25519 known answers from RFC 7748, https://www.rfc-editor.org/rfc/rfc7748
 * Transcribed from paulmillr/noble-curves test/ed25519-addons.test.js (commit 0a975c04…,
 * "RFC7748 X25519 ECDH"), which quotes §5.2 and §6.1; the same values appear in tor's
 * test_crypto_curve25519_testvec ("From RFC 7748, section 6.1") and the libsodium box test keys.
 */

/** §5.2: X25519(scalar, u) = output. The second u has its top bit set, which must be masked. */
export const RFC7748_SCALAR_MULT: readonly { readonly scalar: string; readonly u: string; readonly output: string }[] = [
  {
    scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
    u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
    output: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  },
  {
    scalar: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
    u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
    output: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
  },
];

/** §5.2 iterated test: k = u = 9; repeat (k, u) = (X25519(k, u), k). Values of k after 1 and 1000 rounds. */
export const RFC7748_ITERATED = {
  start: '0900000000000000000000000000000000000000000000000000000000000000',
  after1: '422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079',
  after1000: '684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51',
} as const;

/** §6.1 Diffie-Hellman example. */
export const RFC7748_DH = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPrivate: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
} as const;

/**
 * Ed25519 → X25519 conversion: noble-curves' own known answer ("edwardsToMontgomery should
 * produce correct output", same file), using RFC 7748's alicePrivate as an *ed25519 seed*.
 * Not from a standard; the tor vectors in tor.ts are the independent check of this conversion.
 */
export const NOBLE_ED_TO_X25519 = {
  edSeed: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  x25519Secret: 'a8cd44eb8e93319c0570bc11005c0e0189d34ff02f6c17773411ad191293c94f',
  x25519Public: 'ed7749b4d989f6957f3bfde6c56767e988e21c9f8784d91d610011cd553f9b06',
} as const;

/**
 * The seven u-coordinates for which X25519 with any clamped scalar yields the all-zero output
 * (order 1, 2, 4, 8 points and the unreduced encodings of p − 1, p, p + 1): libsodium's
 * `blacklist` in src/libsodium/crypto_scalarmult/curve25519/ref10/x25519_ref10.c, taken from
 * https://cr.yp.to/ecdh.html (RFC 7748 §6.1 says to check for the all-zero value).
 * libsodium test/default/box.c uses the third one as `small_order_p`.
 */
export const X25519_LOW_ORDER_POINTS: readonly string[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];
