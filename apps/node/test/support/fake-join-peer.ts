import { EventEmitter } from 'node:events';
import { OVERLAY, type Contact, type DirectMessage, type Overlay } from '@pursuance/cwtch';
import type { OnionName } from '@pursuance/crypto';
import { parseJoinReply } from '../../src/sync/join-messages.js';
import type { JoinPeer } from '../../src/sync/join.service.js';

/** A scripted p2p network: what one FakePeer sends, the addressed one receives (in order, at once). */
export class FakeNet {
  readonly peers = new Map<string, FakePeer>();
  /** Every message put on the wire, in order. */
  readonly wire: { from: string; to: string; overlay: Overlay }[] = [];
}

/**
 * The Cwtch peer as the join service sees it: contacts (a stranger's first message makes a
 * pending contact), direct messages stored before they are announced, and sending — onto a
 * FakeNet when given one, else only recorded in `sent`.
 */
export class FakePeer extends EventEmitter implements JoinPeer {
  readonly sent: { to: string; overlay: Overlay }[] = [];
  readonly book = new Map<string, Contact>();
  readonly inbox = new Map<string, DirectMessage[]>();
  #n = 0;
  public constructor(
    readonly onion = '',
    private readonly net?: FakeNet,
  ) {
    super();
    net?.peers.set(onion, this);
  }
  public sendOverlay(to: string, overlay: Overlay): Promise<string> {
    const id = `${this.onion.slice(0, 6)}-${++this.#n}`;
    this.sent.push({ to, overlay });
    this.net?.wire.push({ from: this.onion, to, overlay });
    this.net?.peers.get(to)?.deliver(this.onion, id, overlay.o, overlay.d);
    return Promise.resolve(id);
  }
  public addContact(o: string, name = ''): Promise<Contact> {
    const c = { onion: o as OnionName, name, state: 'accepted', addedAt: 0 } as Contact;
    this.book.set(o, c);
    return Promise.resolve(c);
  }
  public acceptContact(o: string): Promise<Contact> {
    return this.addContact(o);
  }
  public contact(o: string): Contact | undefined {
    return this.book.get(o);
  }
  public contacts(): Contact[] {
    return [...this.book.values()];
  }
  public directMessages(o: string): Promise<DirectMessage[]> {
    return Promise.resolve(this.inbox.get(o) ?? []);
  }
  /** A message arrives: stored first, as the peer does, then announced (unless `announce` is false: a crash in between). */
  public deliver(from: string, id: string, o: number, d: string, announce = true): void {
    if (!this.book.has(from)) this.book.set(from, { onion: from as OnionName, name: '', state: 'pending', addedAt: 0 });
    const list = this.inbox.get(from) ?? [];
    list.push({ id, peer: from as OnionName, direction: 'in', overlay: o, data: d, timestamp: 0, acked: true });
    this.inbox.set(from, list);
    if (announce) this.emit('message', { from, id, overlay: { o, d }, contactState: this.book.get(from)!.state });
  }
  /** The join replies sent to `to`, parsed. */
  public replies(to: string) {
    return this.sent.filter((s) => s.to === to && s.overlay.o === OVERLAY.pursuanceJoinReply).map((s) => parseJoinReply(s.overlay.d));
  }
}
