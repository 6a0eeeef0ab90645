import { ActionNotAllowedError, displayNameProblem, type SignedEvent } from '@pursuance/pursuance';
import { NodeError } from './errors.js';
import type { PursuanceRegistry } from './registry.js';

/**
 * Where the node's display name lives: the Cwtch profile (CwtchPeer has exactly this), which
 * keeps it sealed with the rest of the profile and shows it to peers that ask.
 */
export interface ProfileSource {
  readonly displayName: string;
  setDisplayName(name: string): Promise<void>;
}

/** Nest token for the node's ProfileSource. */
export const PROFILE = Symbol('PROFILE');

export interface ProfileModel {
  readonly onion: string;
  /** The profile's display name; null when none is set (or the one set could not be signed). */
  readonly name: string | null;
}

/** What happened in one pursuance when the node's name changed. */
export type RenameOutcome =
  | { readonly pursuanceId: string; readonly status: 'renamed'; readonly eventId: string }
  | { readonly pursuanceId: string; readonly status: 'refused'; readonly code: string; readonly message: string };

export interface ProfileUpdate extends ProfileModel {
  /** One entry per pursuance where this node is a member and its name there differed. */
  readonly pursuances: readonly RenameOutcome[];
}

/** Internal signal from inside a registry action: the name there is already right (or we are no member). */
class NothingToRename extends Error {}

/** A failure while renaming in one pursuance, in the API's terms (the PUT itself still succeeds). */
function refusal(pursuanceId: string, err: unknown): RenameOutcome {
  if (err instanceof ActionNotAllowedError || err instanceof NodeError) return { pursuanceId, status: 'refused', code: err.code, message: err.message };
  throw err;
}

/**
 * The node's display name and its place in each pursuance. The name is the profile's; each
 * pursuance learns it from a signed member.rename by this node — sent when the name changes
 * (setName), and once when this node is caught up in a pursuance whose name for it is unset or
 * different (follow: a newcomer's name as the adder typed it, or none). The founder's name
 * travels in the genesis (see the create command).
 */
export class ProfileService {
  /** Per pursuance, the name `follow` last signed or tried there: it tries each name once. */
  readonly #followed = new Map<string, string>();

  public constructor(
    private readonly registry: PursuanceRegistry,
    private readonly profile: ProfileSource,
  ) {}

  /** The profile's name as pursuances would carry it: trimmed, or null if unset or not a valid display name. */
  public name(): string | null {
    const name = this.profile.displayName.trim();
    return name !== '' && displayNameProblem(name) === null ? name : null;
  }

  public get(): ProfileModel {
    return { onion: this.registry.identity.onion, name: this.name() };
  }

  /**
   * Store a new display name in the profile (durable first), then sign a rename in every
   * pursuance where this node is a member under another name. A pursuance that refuses (not
   * a member any more, quarantined) is reported, and the others still get the name.
   */
  public async setName(name: string): Promise<ProfileUpdate> {
    await this.profile.setDisplayName(name);
    const pursuances: RenameOutcome[] = [];
    for (const entry of this.registry.list()) {
      this.#followed.set(entry.id, name);
      try {
        const e = await this.#rename(entry.id, name);
        if (e) pursuances.push({ pursuanceId: entry.id, status: 'renamed', eventId: e.id });
      } catch (err) {
        pursuances.push(refusal(entry.id, err));
      }
    }
    return { ...this.get(), pursuances };
  }

  /**
   * Once caught up in a pursuance (joined, the relay's replay taken in), carry the profile's
   * name there if its name for us is unset or another: once per name and pursuance, so a
   * refusal (a removal racing it) is not retried over and over.
   */
  public async follow(pursuanceId: string, caughtUp: () => boolean): Promise<SignedEvent | null> {
    const name = this.name();
    if (name === null || this.#followed.get(pursuanceId) === name || !this.registry.has(pursuanceId)) return null;
    const me = this.registry.get(pursuanceId).log.state().members.get(this.registry.identity.onion);
    if (!me || me.name === name || !caughtUp()) return null;
    this.#followed.set(pursuanceId, name);
    return this.#rename(pursuanceId, name).catch((err: unknown) => {
      // Refused (removed meanwhile, quarantined): nothing to do until the name changes again.
      if (err instanceof ActionNotAllowedError || err instanceof NodeError) return null;
      throw err;
    });
  }

  /** Sign the rename unless, by the time the registry runs it, we are no member or already so named. */
  async #rename(pursuanceId: string, name: string): Promise<SignedEvent | null> {
    try {
      return await this.registry.act(pursuanceId, (a) => {
        const me = a.state.members.get(a.identity.onion);
        if (!me || me.name === name) throw new NothingToRename();
        return a.rename(name);
      });
    } catch (err) {
      if (err instanceof NothingToRename) return null;
      throw err;
    }
  }
}
