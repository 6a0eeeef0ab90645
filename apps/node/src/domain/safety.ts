import { isOnionName, publicKeyFromOnion, safetyNumber, type OnionName } from '@pursuance/crypto';
import type { EventStore } from '../store/event-store.js';
import { InvalidRequestError, SafetyNumberMismatchError } from './errors.js';
import type { PursuanceRegistry } from './registry.js';

export interface SafetyModel {
  readonly onion: string;
  /** A name this contact goes by in one of our pursuances or our contact book, if any. */
  readonly name: string | null;
  /** 12 groups of 5 digits, the same on both sides. */
  readonly safetyNumber: string;
  /** When the user confirmed the digits matched (ms since the epoch), or null. */
  readonly verifiedAt: number | null;
}

/** Where a contact's name can come from besides the pursuances (the Cwtch contact book). */
export interface ContactNames {
  contact(onion: string): { readonly name: string } | undefined;
}

/**
 * The "compare this code in person" check per contact. The number is always computed from the
 * two keys (never stored as the truth); what is stored is that the user confirmed it, with the
 * number confirmed, so a verification only counts while it still equals the current number.
 */
export class SafetyService {
  public constructor(
    private readonly registry: PursuanceRegistry,
    private readonly store: EventStore,
    private readonly contacts: ContactNames,
  ) {}

  public async get(onion: OnionName): Promise<SafetyModel> {
    const current = this.#number(onion);
    const v = (await this.store.safetyVerifications()).get(onion);
    return { onion, name: this.#name(onion), safetyNumber: current, verifiedAt: v !== undefined && v.safetyNumber === current ? v.verifiedAt : null };
  }

  /**
   * Every contact whose safety number the user compared and which is still the current number:
   * one read for a whole member list's badges (each number is computed, so a verification made
   * before a key change is left out).
   */
  public async verified(): Promise<{ readonly onion: string; readonly verifiedAt: number }[]> {
    const out: { onion: string; verifiedAt: number }[] = [];
    for (const [onion, v] of await this.store.safetyVerifications()) {
      if (!isOnionName(onion) || onion === this.registry.identity.onion) continue;
      if (v.safetyNumber === this.#number(onion)) out.push({ onion, verifiedAt: v.verifiedAt });
    }
    return out.sort((a, b) => (a.onion < b.onion ? -1 : 1));
  }

  public async verify(onion: OnionName, confirmed: string, now: number = Date.now()): Promise<SafetyModel> {
    const current = this.#number(onion);
    if (confirmed !== current) throw new SafetyNumberMismatchError();
    await this.store.setSafetyVerification(onion, { safetyNumber: current, verifiedAt: now });
    return this.get(onion);
  }

  public async unverify(onion: OnionName): Promise<SafetyModel> {
    this.#number(onion);
    await this.store.setSafetyVerification(onion, null);
    return this.get(onion);
  }

  #number(onion: OnionName): string {
    if (onion === this.registry.identity.onion) throw new InvalidRequestError('A safety number is compared with someone else, not with yourself.', 'onion');
    return safetyNumber(publicKeyFromOnion(this.registry.identity.onion), publicKeyFromOnion(onion));
  }

  #name(onion: OnionName): string | null {
    for (const entry of this.registry.list()) {
      const name = entry.log.state().members.get(onion)?.name;
      if (name) return name;
    }
    const contactName = this.contacts.contact(onion)?.name;
    return contactName ? contactName : null;
  }
}
