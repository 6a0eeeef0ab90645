import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Identity, ScryptParams } from '@pursuance/crypto';
import { CwtchPeer, WrongPasswordError, type CwtchPeerOptions } from '@pursuance/cwtch';
import { TypeormProfileStore } from '@pursuance/cwtch-store-sqlite';
import { checkNewPassword } from '@pursuance/password';
import { LoopbackACN, type ACN } from '@pursuance/tapir';
import { makePrivateDir } from './store/private-dir.js';

/**
 * A profile's one identity is its Cwtch profile, `profile.sqlite` in the data dir: the identity
 * seed and a master key sealed together under the profile password, every record sealed under
 * that key (packages/cwtch's vault). `pursuance identity create` makes exactly the profile
 * `node start` opens, so both print the same onion; nothing names the identity in the clear,
 * which is why even showing the onion takes the password.
 *
 * An `identity.json` from an earlier `identity create` (a separate identity, never the node's)
 * is no longer read or written (the CLI says so when it finds one).
 */

export class IdentityExistsError extends Error {
  public readonly code = 'IDENTITY_EXISTS';
  public constructor(dir: string) {
    super(`an identity already exists in ${dir}; refusing to overwrite it`);
    this.name = 'IdentityExistsError';
  }
}

export class IdentityMissingError extends Error {
  public readonly code = 'IDENTITY_MISSING';
  public constructor(dir: string) {
    super(`no identity in ${dir}`);
    this.name = 'IdentityMissingError';
  }
}

export class ProfilePasswordError extends Error {
  public readonly code = 'WRONG_PASSWORD';
  public constructor() {
    super('wrong password for this profile');
    this.name = 'ProfilePasswordError';
  }
}

function profilePath(dataDir: string): string {
  return join(dataDir, 'profile.sqlite');
}

/** Whether the data dir holds a profile file (possibly one a refused first start left without a header). */
function hasProfileFile(dataDir: string): boolean {
  return existsSync(profilePath(dataDir));
}

export interface OpenProfileOptions {
  readonly dataDir: string;
  readonly password: string;
  readonly scrypt?: ScryptParams;
  /** Display name for a new profile. */
  readonly displayName?: string;
  /** Also give an existing profile `displayName`. */
  readonly renameProfile?: boolean;
  readonly peerOptions?: Partial<Omit<CwtchPeerOptions, 'store' | 'acn' | 'password'>>;
  /**
   * 'create': refuse an existing profile (IdentityExistsError), as `identity create` does;
   * 'open': refuse to create one (IdentityMissingError); default: either.
   */
  readonly only?: 'create' | 'open';
  /**
   * Called once, as the password's scrypt is about to run on the thread pool (about half a
   * second): what the caller does then overlaps with it (start-up loads NestJS).
   */
  readonly whileUnlocking?: () => void;
}

/**
 * Open the data dir's Cwtch profile (its identity, contacts, groups), creating it when there is
 * none; a new profile's password must pass the password rules (WeakPasswordError, and no file is
 * made). A wrong password is a ProfilePasswordError and leaves the store as it was.
 */
export async function openProfile(options: OpenProfileOptions, acn: ACN): Promise<{ peer: CwtchPeer; profileStore: TypeormProfileStore }> {
  if (!hasProfileFile(options.dataDir)) {
    if (options.only === 'open') throw new IdentityMissingError(options.dataDir);
    // Checked before the store file exists, so a refused first start leaves nothing behind.
    checkNewPassword(options.password);
  }
  const profileStore = await TypeormProfileStore.open({ path: profilePath(options.dataDir) });
  const common = { store: profileStore, acn, password: options.password, ...options.peerOptions };
  try {
    if ((await profileStore.readHeader()) === undefined) {
      if (options.only === 'open') throw new IdentityMissingError(options.dataDir);
      // A new profile: its password is the only thing between a stolen disk and everything.
      checkNewPassword(options.password);
      options.whileUnlocking?.();
      const peer = await CwtchPeer.create({ ...common, displayName: options.displayName ?? '', ...(options.scrypt ? { scryptParams: options.scrypt } : {}) });
      return { peer, profileStore };
    }
    if (options.only === 'create') throw new IdentityExistsError(options.dataDir);
    const opening = CwtchPeer.open(common);
    options.whileUnlocking?.();
    const peer = await opening;
    // `--name` on an existing profile renames it; the node carries the name into each
    // pursuance once it is caught up there (see domain/profile.ts).
    const name = options.displayName?.trim();
    if (options.renameProfile === true && name && name !== peer.displayName) await peer.setDisplayName(name);
    return { peer, profileStore };
  } catch (err) {
    await profileStore.close().catch(() => undefined);
    if (err instanceof WrongPasswordError) throw new ProfilePasswordError();
    throw err;
  }
}

/** Run `use` on the data dir's profile opened offline (a loopback network of its own), then close it. */
async function withProfile<T>(options: OpenProfileOptions, use: (peer: CwtchPeer) => T): Promise<T> {
  await makePrivateDir(options.dataDir);
  const acn = new LoopbackACN();
  try {
    const { peer, profileStore } = await openProfile(options, acn);
    try {
      return use(peer);
    } finally {
      await profileStore.close();
    }
  } finally {
    await acn.close().catch(() => undefined);
  }
}

/**
 * Create the data dir's profile — the one `node start` opens — and return its identity.
 * IdentityExistsError, and no change, when the data dir already has one.
 */
export async function createIdentity(dataDir: string, password: string, options: { scrypt?: ScryptParams; displayName?: string } = {}): Promise<Identity> {
  return withProfile({ dataDir, password, ...options, only: 'create' }, (peer) => peer.identity);
}

/** Unlock the data dir's profile and return its identity (IdentityMissingError when there is none; nothing is created). */
export async function loadIdentity(dataDir: string, password: string): Promise<Identity> {
  if (!hasProfileFile(dataDir)) throw new IdentityMissingError(dataDir);
  return withProfile({ dataDir, password, only: 'open' }, (peer) => peer.identity);
}
