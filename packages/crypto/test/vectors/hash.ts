/**
 * Hash known answers for the one-block "abc" message:
 *  - SHA-256 and SHA-512: FIPS 180-4 examples (NIST "Examples with Intermediate Values");
 *    SHA-512("abc") is also RFC 8032's TEST SHA(abc) message (rfc8032.ts);
 *  - SHA3-256 and SHA3-512: FIPS 202 examples, as quoted by the test suites found by code search
 *    (e.g. git's t/t0015-hash, "FIPS 202 Appendix B.1" vectors);
 * HMAC-SHA-256: RFC 4231 §4.3, test case 2 (key "Jefe").
 */
export const HASH_ABC = {
  sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  sha512:
    'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
    '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
  sha3_256: '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532',
  sha3_512:
    'b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e' +
    '10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0',
} as const;

export const RFC4231_CASE2 = {
  key: 'Jefe',
  data: 'what do ya want for nothing?',
  hmacSha256: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
} as const;
