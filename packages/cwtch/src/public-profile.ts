import { parseOnionName, type OnionName } from '@pursuance/crypto';
import { encodeAttributeRequest, encodeAttributeResponse, parseAttributeRequest, parseAttributeResponse, type AttributeResponse } from './attributes.js';
import { RequestTimeoutError } from './errors.js';
import { codeOf, type PeerEvents } from './peer-context.js';
import type { PeerLink, PeerLinks } from './peer-links.js';
import { newMessageId, type PeerMessage } from './peer-protocol.js';
import { DISPLAY_NAME_PATH, PEER_CONTEXT, PUBLIC_SCOPE } from './protocol-profile.js';
import { COLLECTIONS, SettingsSchema, decodeRecord, toCanonical, type Settings } from './records.js';
import type { ProfileVault } from './vault.js';

const SETTINGS_KEY = 'profile';

/**
 * What a profile shows other peers — its display name and public attributes — and Cwtch's
 * getVal / retVal exchange: answering other peers' requests, and asking them.
 */
export class PublicProfile {
  readonly #vault: ProfileVault;
  readonly #links: PeerLinks;
  readonly #events: PeerEvents;
  readonly #requestTimeoutMs: number;
  readonly #requests = new Map<string, { onion: OnionName; resolve: (r: AttributeResponse) => void }>();
  #settings: Settings = { displayName: '', attributes: {} };

  public constructor(options: { vault: ProfileVault; links: PeerLinks; events: PeerEvents; requestTimeoutMs: number }) {
    this.#vault = options.vault;
    this.#links = options.links;
    this.#events = options.events;
    this.#requestTimeoutMs = options.requestTimeoutMs;
  }

  /** The settings of a new profile, written with its creation. */
  public static async initialise(vault: ProfileVault, displayName: string): Promise<void> {
    const settings: Settings = { displayName, attributes: {} };
    await vault.write([vault.put(COLLECTIONS.settings, SETTINGS_KEY, toCanonical(settings))]);
  }

  public async load(): Promise<void> {
    this.#settings = decodeRecord(SettingsSchema, await this.#vault.get(COLLECTIONS.settings, SETTINGS_KEY), 'settings');
  }

  public get displayName(): string {
    return this.#settings.displayName;
  }

  public async setDisplayName(name: string): Promise<void> {
    await this.#save({ ...this.#settings, displayName: name });
  }

  public async setPublicAttribute(path: string, value: string): Promise<void> {
    await this.#save({ ...this.#settings, attributes: { ...this.#settings.attributes, [path]: value } });
  }

  async #save(settings: Settings): Promise<void> {
    await this.#vault.write([this.#vault.put(COLLECTIONS.settings, SETTINGS_KEY, toCanonical(settings))]);
    this.#settings = settings;
  }

  /** Ask a peer for one of its attributes; RequestTimeoutError if it does not answer in time. */
  public async request(onion: string, path: string, scope: string): Promise<AttributeResponse> {
    const link = await this.#links.connect(parseOnionName(onion));
    const id = newMessageId();
    const answer = new Promise<AttributeResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(id);
        reject(new RequestTimeoutError('attribute request was not answered in time'));
      }, this.#requestTimeoutMs);
      this.#requests.set(id, {
        onion: link.onion,
        resolve: (r) => {
          clearTimeout(timer);
          this.#requests.delete(id);
          resolve(r);
        },
      });
    });
    await link.send({ id, context: PEER_CONTEXT.getVal, data: encodeAttributeRequest({ scope, path }) });
    return answer;
  }

  /** An answer to one of our requests; one from another peer than we asked is ignored. */
  public onAnswer(link: PeerLink, message: PeerMessage): void {
    const pending = this.#requests.get(message.id);
    if (pending?.onion !== link.onion) return;
    try {
      pending.resolve(parseAttributeResponse(message.data));
    } catch (err) {
      this.#events.emit('warning', { code: codeOf(err), where: 'attribute' });
    }
  }

  /** Answer a peer's request: public attributes only, everything else "does not exist". */
  public async answer(link: PeerLink, message: PeerMessage): Promise<void> {
    let response: AttributeResponse = { exists: false, value: '' };
    try {
      const request = parseAttributeRequest(message.data);
      if (request.scope === PUBLIC_SCOPE) {
        // The path comes from a remote peer: only our own attributes answer, never Object.prototype's.
        const attributes = this.#settings.attributes;
        const value =
          request.path === DISPLAY_NAME_PATH ? this.#settings.displayName : Object.hasOwn(attributes, request.path) ? attributes[request.path] : undefined;
        if (value !== undefined) response = { exists: true, value };
      }
    } catch {
      // Malformed request: answer "does not exist", like an unknown path.
    }
    await link.send({ id: message.id, context: PEER_CONTEXT.retVal, data: encodeAttributeResponse(response) });
  }
}
