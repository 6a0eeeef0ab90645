/**
 * Tor v3 onion-service vectors, from tor's own test suite (torproject/tor).
 */

/**
 * src/test/test_hs_common.c, `test_build_address` (tor commit 9ef97a26…): the onion address
 * tor builds for this ed25519 public key ("created with hs_build_address.py script that follows
 * proposal 224"). The key is also RFC 8032 §7.1 TEST 1's public key.
 */
export const TOR_BUILD_ADDRESS = {
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  onion: '25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid',
} as const;

/**
 * src/test/test_hs_common.c, `test_validate_address`: strings `hs_address_is_valid` rejects
 * (too short, 57 characters, two with an invalid checksum taken from prop224, non-base32).
 */
export const TOR_INVALID_ADDRESSES: readonly { readonly reason: string; readonly address: string }[] = [
  { reason: 'too short', address: 'blah' },
  { reason: 'too long', address: 'p3xnclpu4mu22dwaurjtsybyqk4xfjmcfz6z62yl24uwmhjatiwnlnadb' },
  { reason: 'invalid checksum (prop224)', address: 'l5satjgud6gucryazcyvyvhuxhr74u6ygigiuyixe3a6ysis67ororad' },
  { reason: 'invalid checksum', address: 'btojiu7nu5y5iwut64eufevogqdw4wmqzugnoluw232r4t3ecsfv37ad' },
  { reason: 'not base32', address: '????????????????????????????????????????????????????????' },
];

/**
 * src/test/ed25519_vectors.inc (tor commit 7ca470e1…), checked by `test_crypto_ed25519_test_vectors`
 * in src/test/test_crypto.c:
 *   ed25519_secret_key_from_seed(seed)            == expandedSecretKey  (tor's 64-byte key format)
 *   ed25519_public_key_generate(expanded)         == publicKey
 *   curve25519 public key of expanded[0..32]      == curve25519PublicKey
 *   ed25519_sign(publicKey, as the 32-byte message) == selfSignature
 */
export interface TorEd25519Vector {
  readonly seed: string;
  readonly expandedSecretKey: string;
  readonly publicKey: string;
  readonly curve25519PublicKey: string;
  readonly selfSignature: string;
}

export const TOR_ED25519_VECTORS: readonly TorEd25519Vector[] = [
  {
    seed: '26c76712d89d906e6672dafa614c42e5cb1caac8c6568e4d2493087db51f0d36',
    expandedSecretKey:
      'c0a4de23cc64392d85aa1da82b3defddbea946d13bb053bf8489fa9296281f495022f1' +
      'f7ec0dcf52f07d4c7965c4eaed121d5d88d0a8ff546b06116a20e97755',
    publicKey: 'c2247870536a192d142d056abefca68d6193158e7c1a59c1654c954eccaff894',
    curve25519PublicKey: '17ba77846e04c7ee5ca17cade774ac1884408f9701f439d4df32cbd8736c6a1f',
    selfSignature:
      'd23188eac3773a316d46006fa59c095060be8b1a23582a0dd99002a82a0662bd246d84' +
      '49e172e04c5f46ac0d1404cebe4aabd8a75a1457aa06cae41f3334f104',
  },
  {
    seed: 'fba7a5366b5cb98c2667a18783f5cf8f4f8d1a2ce939ad22a6e685edde85128d',
    expandedSecretKey:
      '18a8a69a06790dac778e882f7e868baacfa12521a5c058f5194f3a729184514a2a656f' +
      'e7799c3e41f43d756da8d9cd47a061316cfe6147e23ea2f90d1ca45f30',
    publicKey: '1519a3b15816a1aafab0b213892026ebf5c0dc232c58b21088d88cb90e9b940d',
    curve25519PublicKey: '022be2124bc1899a78ba2b4167d191af3b59cadf94f0382bc31ce183a117f161',
    selfSignature:
      '3a785ac1201c97ee5f6f0d99323960d5f264c7825e61aa7cc81262f15bef75eb4fa572' +
      '3add9b9d45b12311b6d403eb3ac79ff8e4e631fc3cd51e4ad2185b200b',
  },
  {
    seed: '67e3aa7a14fac8445d15e45e38a523481a69ae35513c9e4143eb1c2196729a0e',
    expandedSecretKey:
      '58d84f8862d2ecfa30eb491a81c36d05b574310ea69dae18ecb57e992a896656b98218' +
      '7ee96c15bf4caeeab2d0b0ae4cd0b8d17470fc7efa98bb26428f4ef36d',
    publicKey: '081faa81992e360ea22c06af1aba096e7a73f1c665bc8b3e4e531c46455fd1dd',
    curve25519PublicKey: 'bf4fd38ef22f718f03c0a12ba5127bd1e3afd494793753f519728b29cc577571',
    selfSignature:
      'cf431fd0416bfbd20c9d95ef9b723e2acddffb33900edc72195dea95965d52d888d30b' +
      '7b8a677c0bd8ae1417b1e1a0ec6700deadd5d8b54b6689275e04a04509',
  },
  {
    seed: 'd51385942033a76dc17f089a59e6a5a7fe80d9c526ae8ddd8c3a506b99d3d0a6',
    expandedSecretKey:
      '50702d20b3550c6e16033db5ad4fba16436f1ecc7485be6af62b0732ceb5d173c47ccd' +
      '9d044b6ea99dd99256adcc9c62191be194e7cb1a5b58ddcec85d876a2b',
    publicKey: '73cfa1189a723aad7966137cbffa35140bb40d7e16eae4c40b79b5f0360dd65a',
    curve25519PublicKey: '56c493e490261cef31633efd2461d2b896908e90459e4eecde950a895aef681d',
    selfSignature:
      '2375380cd72d1a6c642aeddff862be8a5804b916acb72c02d9ed052c1561881aa658a5' +
      'af856fcd6d43113e42f698cd6687c99efeef7f2ce045824440d26c5d00',
  },
  {
    seed: '5c8eac469bb3f1b85bc7cd893f52dc42a9ab66f1b02b5ce6a68e9b175d3bb433',
    expandedSecretKey:
      '7077464c864c2ed5ed21c9916dc3b3ba6256f8b742fec67658d8d233dadc8d5a7a82c3' +
      '71083cc86892c2c8782dda2a09b6baf016aec51b689183ae59ce932ff2',
    publicKey: '66c1a77104d86461b6f98f73acf3cd229c80624495d2d74d6fda1e940080a96b',
    curve25519PublicKey: '089675a3e8ff2a7d8b2844a79269c95b7f97a4b8b5ea0cbeec669c6f2dea9b39',
    selfSignature:
      '2385a472f599ca965bbe4d610e391cdeabeba9c336694b0d6249e551458280be122c24' +
      '41dd9746a81bbfb9cd619364bab0df37ff4ceb7aefd24469c39d3bc508',
  },
  {
    seed: 'eda433d483059b6d1ff8b7cfbd0fe406bfb23722c8f3c8252629284573b61b86',
    expandedSecretKey:
      '8883c1387a6c86fc0bd7b9f157b4e4cd83f6885bf55e2706d2235d4527a2f05311a359' +
      '5953282e436df0349e1bb313a19b3ddbf7a7b91ecce8a2c34abadb38b3',
    publicKey: 'd21c294db0e64cb2d8976625786ede1d9754186ae8197a64d72f68c792eecc19',
    curve25519PublicKey: '59e20dcb691c4a345fe86c8a79ac817e5b514d84bbf0512a842a08e43f7f087e',
    selfSignature:
      'e500cd0b8cfff35442f88008d894f3a2fa26ef7d3a0ca5714ae0d3e2d40caae58ba7cd' +
      'f69dd126994dad6be536fcda846d89dd8138d1683cc144c8853dce7607',
  },
  {
    seed: '4377c40431c30883c5fbd9bc92ae48d1ed8a47b81d13806beac5351739b5533d',
    expandedSecretKey:
      '186791ac8d03a3ac8efed6ac360467edd5a3bed2d02b3be713ddd5be53b3287ee37436' +
      'e5fd7ac43794394507ad440ecfdf59c4c255f19b768a273109e06d7d8e',
    publicKey: 'c4d58b4cf85a348ff3d410dd936fa460c4f18da962c01b1963792b9dcc8a6ea6',
    curve25519PublicKey: '9e43b820b320eda35f66f122c155b2bf8e2192c468617b7115bf067d19e08369',
    selfSignature:
      'd187b9e334b0050154de10bf69b3e4208a584e1a65015ec28b14bcc252cf84b8baa9c9' +
      '4867daa60f2a82d09ba9652d41e8dde292b624afc8d2c26441b95e3c0e',
  },
  {
    seed: 'c6bbcce615839756aed2cc78b1de13884dd3618f48367a17597a16c1cd7a290b',
    expandedSecretKey:
      'b003077c1e52a62308eef7950b2d532e1d4a7eea50ad22d8ac11b892851f1c40ffb9c9' +
      'ff8dcd0c6c233f665a2e176324d92416bfcfcd1f787424c0c667452d86',
    publicKey: '95126f14d86494020665face03f2d42ee2b312a85bc729903eb17522954a1c4a',
    curve25519PublicKey: '861f33296cb57f8f01e4a5e8a7e5d5d7043a6247586ab36dea8a1a3c4403ee30',
    selfSignature:
      '815213640a643d198bd056e02bba74e1c8d2d931643e84497adf3347eb485079c9afe0' +
      'afce9284cdc084946b561abbb214f1304ca11228ff82702185cf28f60d',
  },
];
