/**
 * scrypt known answer from RFC 7914 §12 ("Test Vectors for scrypt"), the second vector:
 * scrypt(P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64).
 * https://www.rfc-editor.org/rfc/rfc7914#section-12
 * Transcribed from public test suites quoting it (e.g. the "RFC 7914 vector (password / NaCl,
 * N=1024 r=8 p=16)" cases found by code search, and CyberChef's "Scrypt: RFC test vector 2").
 * It is the only RFC vector inside this package's accepted parameter range (N >= 2^10).
 */
export const RFC7914_SCRYPT = {
  password: 'password',
  salt: 'NaCl',
  N: 1024,
  r: 8,
  p: 16,
  dkLen: 64,
  derivedKey:
    'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162' +
    '2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
} as const;
