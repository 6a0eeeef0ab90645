import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, concatBytes, equalBytes, onionFromPublicKey, toBase64, x25519PublicFromEd25519 } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, TAPIR_PORT, type Application, type Connection } from '../src/index.js';
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
} from '../src/wire-profile.js';
import { TranscriptMismatchError } from '../src/errors.js';
import { deriveSessionKeys, parseAuthMessage } from '../src/auth.js';
import { echoApp, loopbackWorld, type LoopbackWorld } from './support/loopback.js';

/**
 * Hostile 3DH peers. The rogue below is the honest AuthApp's algorithm with two knobs: it can
 * announce a long-term key it does not hold (it knows only the victim's public key), and it can
 * build the session key from a chosen subset of the three DH results. A faithful copy matters:
 * the first test shows the rogue, configured honestly, completes a handshake with AuthApp, so
 * every later failure is due to the missing secret or the missing DH result, nothing else.
 */
type DhResult = 'loEi' | 'liEo' | 'eoEi';
const ALL: readonly DhResult[] = ['loEi', 'liEo', 'eoEi'];

interface RogueOptions {
  /** Long-term public key to announce (a victim's, or the rogue's own). */
  readonly announce?: Uint8Array;
  /** DH results hashed into the session key, in the honest order. */
  readonly use?: readonly DhResult[];
  /**
   * What stands in for the DH result that needs the announced key's secret when the rogue does
   * not hold it: leave it out of the hash, 32 zero bytes, or the same exchange done with the
   * rogue's own long-term secret.
   */
  readonly standIn?: 'omit' | 'zeros' | 'own-key';
  /** Add an entry to the transcript after deriving the keys: same keys, another commitment. */
  readonly skewCommitment?: boolean;
}

const encoder = new TextEncoder();

function rogueAuth(options: RogueOptions = {}): Application {
  return {
    name: 'rogue-auth',
    async run(conn: Connection) {
      const own = conn.localIdentity;
      const announce = options.announce ?? own.publicKey;
      const holdsKey = equalBytes(announce, own.publicKey);
      conn.transcript.newProtocol(AUTH_PROTOCOL_LABEL);
      const ephemeral = Identity.generate();
      const ourMessage = encoder.encode(JSON.stringify({ LongTermPublicKey: toBase64(announce), EphemeralPublicKey: toBase64(ephemeral.publicKey) }));
      await conn.send(ourMessage);
      const theirMessage = await conn.expect();
      const theirs = parseAuthMessage(theirMessage);
      const theirLongTerm = x25519PublicFromEd25519(theirs.longTerm);
      const theirEphemeral = x25519PublicFromEd25519(theirs.ephemeral);

      const withAnnouncedSecret = (pub: Uint8Array): Uint8Array | undefined => {
        if (holdsKey) return own.diffieHellman(pub);
        switch (options.standIn ?? 'omit') {
          case 'omit':
            return undefined;
          case 'zeros':
            return new Uint8Array(32);
          case 'own-key':
            return own.diffieHellman(pub);
        }
      };
      const results: Record<DhResult, Uint8Array | undefined> = conn.outbound
        ? { loEi: withAnnouncedSecret(theirEphemeral), liEo: ephemeral.diffieHellman(theirLongTerm), eoEi: ephemeral.diffieHellman(theirEphemeral) }
        : { loEi: ephemeral.diffieHellman(theirLongTerm), liEo: withAnnouncedSecret(theirEphemeral), eoEi: ephemeral.diffieHellman(theirEphemeral) };
      const parts = (options.use ?? ALL).map((name) => results[name]).filter((r): r is Uint8Array => r !== undefined);

      const ourOnion = onionFromPublicKey(announce);
      const theirOnion = onionFromPublicKey(theirs.longTerm);
      conn.transcript.add(AUTH_OUTBOUND_HOSTNAME, conn.outbound ? ourOnion : theirOnion);
      conn.transcript.add(AUTH_INBOUND_HOSTNAME, conn.outbound ? theirOnion : ourOnion);
      conn.transcript.add(AUTH_OUTBOUND_CHALLENGE, conn.outbound ? ourMessage : theirMessage);
      conn.transcript.add(AUTH_INBOUND_CHALLENGE, conn.outbound ? theirMessage : ourMessage);
      conn.setSessionKeys(deriveSessionKeys(concatBytes(...parts), conn.transcript.commit(SESSION_KEYS_CHALLENGE, 32), conn.outbound));
      if (options.skewCommitment === true) conn.transcript.add('injected', 'entry');
      const commitment = conn.transcript.commit(AUTH_COMMITMENT, COMMITMENT_SIZE);
      await conn.send(commitment);
      if (!equalBytes(await conn.expect(), commitment)) throw new TranscriptMismatchError();
      conn.setRemoteOnion(theirOnion);
      conn.grantCapability(AUTHENTICATION_CAPABILITY);
    },
  };
}

const honestChain = (): ApplicationChain => new ApplicationChain([new AuthApp()]);
const rogueChain = (options: RogueOptions): ApplicationChain => new ApplicationChain([rogueAuth(options)]);
const rogueServerChain = (options: RogueOptions) => (): Application => new ApplicationChain([rogueAuth(options)], echoApp());

let world: LoopbackWorld;
beforeEach(async () => {
  world = await loopbackWorld();
});
afterEach(async () => {
  await world.cleanup();
});

/** Every way to build the key from two of the three results. */
const twoOfThree: readonly (readonly DhResult[])[] = ALL.map((dropped) => ALL.filter((r) => r !== dropped));

describe('the rogue handshake is faithful when configured honestly', () => {
  it('completes with an honest server and an honest client, both directions', async () => {
    const { service: server } = await world.echoServer();
    const client = Identity.generate();
    const conn = await world.client(client).connect(server.onion, rogueChain({}));
    expect(conn.remoteOnion).toBe(server.onion);
    await conn.send(Uint8Array.of(3));
    expect(await conn.expect()).toEqual(Uint8Array.of(3));
    conn.close();

    const { service: rogueServer } = await world.echoServer({}, rogueServerChain({}));
    const back = await world.client().connect(rogueServer.onion, honestChain());
    expect(back.remoteOnion).toBe(rogueServer.onion);
    await back.send(Uint8Array.of(4));
    expect(await back.expect()).toEqual(Uint8Array.of(4));
  });
});

describe('a peer that derives the keys but commits to another transcript', () => {
  it('is refused with TRANSCRIPT_MISMATCH on both sides of the exchange', async () => {
    const { service: server, nextError } = await world.echoServer();
    const serverError = nextError();
    await expect(world.client().connect(server.onion, rogueChain({ skewCommitment: true }))).rejects.toMatchObject({ code: 'TRANSCRIPT_MISMATCH' });
    expect((await serverError).code).toBe('TRANSCRIPT_MISMATCH');
    expect(server.metrics.established).toBe(0);

    const { service: rogueServer } = await world.echoServer({}, rogueServerChain({ skewCommitment: true }));
    await expect(world.client().connect(rogueServer.onion, honestChain())).rejects.toMatchObject({ code: 'TRANSCRIPT_MISMATCH' });
  });
});

describe('a peer announcing a long-term key it does not hold', () => {
  for (const standIn of ['omit', 'zeros', 'own-key'] as const) {
    it(`cannot log in to an honest server as the victim (unknown DH result: ${standIn})`, async () => {
      const { service: server, nextError } = await world.echoServer();
      const established: (string | undefined)[] = [];
      server.on('established', (c) => established.push(c.remoteOnion));
      const serverError = nextError();
      const victim = Identity.generate();
      const attacker = Identity.generate();
      await expect(world.client(attacker).connect(server.onion, rogueChain({ announce: victim.publicKey, standIn }))).rejects.toMatchObject({
        code: 'DECRYPTION_FAILED',
      });
      // The client's sealed commitment does not open under the key the server derived.
      expect((await serverError).code).toBe('DECRYPTION_FAILED');
      expect(established).toEqual([]);
      expect(server.metrics.established).toBe(0);
    });

    it(`cannot answer for the victim's onion to an honest dialler (unknown DH result: ${standIn})`, async () => {
      const victim = Identity.generate();
      const { service: impostor } = await world.echoServer({}, rogueServerChain({ announce: victim.publicKey, standIn }));
      // The untrusted ACN routes the victim's name to the impostor, who announces the victim's
      // own key: the onion check passes, so only the key derivation stands in the way.
      await copyFile(join(world.registryDir, `${impostor.onion}-${TAPIR_PORT}.json`), join(world.registryDir, `${victim.onion}-${TAPIR_PORT}.json`));
      await expect(world.client().connect(victim.onion, honestChain())).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
      expect(impostor.metrics.established).toBe(0);
    });
  }
});

describe('a session key built from only two of the three DH results', () => {
  for (const use of twoOfThree) {
    it(`from ${use.join(' + ')} cannot talk to an honest server`, async () => {
      const { service: server, nextError } = await world.echoServer();
      const serverError = nextError();
      await expect(world.client().connect(server.onion, rogueChain({ use }))).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
      expect((await serverError).code).toBe('DECRYPTION_FAILED');
      expect(server.metrics.established).toBe(0);
    });

    it(`from ${use.join(' + ')} cannot serve an honest client`, async () => {
      const { service: server } = await world.echoServer({}, rogueServerChain({ use }));
      await expect(world.client().connect(server.onion, honestChain())).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
      expect(server.metrics.established).toBe(0);
    });
  }
});
