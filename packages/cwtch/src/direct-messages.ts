import type { OnionName } from '@pursuance/crypto';
import type { ContactBook } from './contact-book.js';
import { ContactBlockedError, ContactUnknownError, PayloadTooLargeError } from './errors.js';
import { parseGroupInvite } from './group-invite.js';
import type { Outbox } from './outbox.js';
import { encodeOverlay, parseOverlay, type Overlay } from './overlays.js';
import { codeOf, type PeerEvents } from './peer-context.js';
import type { PeerLink } from './peer-links.js';
import { newMessageId, type PeerMessage } from './peer-protocol.js';
import { MAX_PEER_MESSAGE_DATA, OVERLAY, PEER_CONTEXT } from './protocol-profile.js';
import { COLLECTIONS, DirectMessageSchema, decodeRecord, toCanonical, type DirectMessage } from './records.js';
import type { ProfileVault } from './vault.js';

/**
 * Direct messages with contacts: each sent overlay is stored with its outbox entry in one write
 * (so a crash loses neither), delivered with retries until acknowledged; each received one is
 * stored once, acknowledged every time (its sender retries until an ack arrives), and
 * announced. A stranger's first message makes it a pending contact.
 */
export class DirectMessages {
  readonly #vault: ProfileVault;
  readonly #outbox: Outbox;
  readonly #contacts: ContactBook;
  readonly #events: PeerEvents;
  readonly #now: () => number;
  readonly #chains = new Map<OnionName, Promise<void>>();

  public constructor(options: { vault: ProfileVault; outbox: Outbox; contacts: ContactBook; events: PeerEvents; now: () => number }) {
    this.#vault = options.vault;
    this.#outbox = options.outbox;
    this.#contacts = options.contacts;
    this.#events = options.events;
    this.#now = options.now;
    this.#outbox.on('delivered', (entry) => void this.#onDelivered(entry.to, entry.id));
  }

  /** Store and queue an overlay for a contact; resolves with its id once stored. */
  public async send(onion: string, overlay: Overlay): Promise<string> {
    const contact = this.#contacts.get(onion);
    if (contact === undefined) throw new ContactUnknownError();
    if (contact.state === 'blocked') throw new ContactBlockedError();
    const data = encodeOverlay(overlay);
    if (data.length > MAX_PEER_MESSAGE_DATA) throw new PayloadTooLargeError(`a direct message is at most ${MAX_PEER_MESSAGE_DATA} bytes`);
    const id = newMessageId();
    const record: DirectMessage = { id, peer: contact.onion, direction: 'out', overlay: overlay.o, data: overlay.d, timestamp: this.#now(), acked: false };
    await this.#outbox.enqueue(
      contact.onion,
      PEER_CONTEXT.raw,
      data,
      [this.#vault.put(COLLECTIONS.directMessages(contact.onion), `out:${id}`, toCanonical(record))],
      id,
    );
    return id;
  }

  /** Messages exchanged with `onion`, oldest first. */
  public async list(onion: string): Promise<DirectMessage[]> {
    const out: DirectMessage[] = [];
    for await (const r of this.#vault.all(COLLECTIONS.directMessages(onion))) out.push(decodeRecord(DirectMessageSchema, r.value, 'direct message'));
    return out;
  }

  /** Sent messages still waiting for an acknowledgement. */
  public pending(onion?: string): { id: string; to: OnionName; attempts: number; nextAttemptAt: number }[] {
    return this.#outbox.pending(onion as OnionName | undefined).map((e) => ({ id: e.id, to: e.to, attempts: e.attempts, nextAttemptAt: e.nextAttemptAt }));
  }

  /**
   * A message from `link`'s peer. One peer's messages are handled one at a time, in arrival
   * order: delivery order is kept, and a quick retry cannot slip past the duplicate check of
   * its first copy.
   */
  public receive(link: PeerLink, message: PeerMessage): void {
    const next = (this.#chains.get(link.onion) ?? Promise.resolve())
      .then(() => this.#onMessage(link, message))
      .catch((err: unknown) => {
        this.#events.emit('warning', { code: codeOf(err), where: 'direct-message' });
      });
    this.#chains.set(link.onion, next);
    void next.then(() => {
      if (this.#chains.get(link.onion) === next) this.#chains.delete(link.onion);
    });
  }

  async #onMessage(link: PeerLink, message: PeerMessage): Promise<void> {
    let overlay: Overlay | undefined;
    try {
      overlay = parseOverlay(message.data);
    } catch (err) {
      this.#events.emit('warning', { code: codeOf(err), where: 'direct-message' });
    }
    let contact = this.#contacts.get(link.onion);
    if (contact === undefined) {
      contact = await this.#contacts.addRequest(link.onion);
      this.#events.emit('contactRequest', link.onion);
    }
    const collection = COLLECTIONS.directMessages(link.onion);
    const key = `in:${message.id}`;
    // A retry of a message whose ack was lost: acknowledge again, deliver once.
    const duplicate = (await this.#vault.get(collection, key)) !== undefined;
    if (!duplicate && overlay !== undefined) {
      const record: DirectMessage = {
        id: message.id,
        peer: link.onion,
        direction: 'in',
        overlay: overlay.o,
        data: overlay.d,
        timestamp: this.#now(),
        acked: true,
      };
      await this.#vault.write([this.#vault.put(collection, key, toCanonical(record))]);
    }
    await link.send({ id: message.id, context: PEER_CONTEXT.ack, data: new Uint8Array(0) });
    if (duplicate || overlay === undefined) return;
    this.#events.emit('message', { from: link.onion, id: message.id, overlay, contactState: contact.state });
    if (overlay.o === OVERLAY.groupInvite) {
      try {
        this.#events.emit('groupInvite', { from: link.onion, invite: parseGroupInvite(overlay.d), text: overlay.d });
      } catch (err) {
        this.#events.emit('warning', { code: codeOf(err), where: 'group-invite' });
      }
    }
  }

  /** The contact acknowledged a message: mark it so, then tell the application. */
  async #onDelivered(to: OnionName, id: string): Promise<void> {
    const key = `out:${id}`;
    try {
      const value = await this.#vault.get(COLLECTIONS.directMessages(to), key);
      if (value !== undefined) {
        const record = decodeRecord(DirectMessageSchema, value, 'direct message');
        await this.#vault.write([this.#vault.put(COLLECTIONS.directMessages(to), key, toCanonical({ ...record, acked: true }))]);
      }
    } catch (err) {
      this.#events.emit('warning', { code: codeOf(err), where: 'direct-message-store' });
    }
    this.#events.emit('delivered', { to, id });
  }
}
