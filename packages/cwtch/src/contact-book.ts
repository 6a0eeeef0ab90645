import { parseOnionName, type OnionName } from '@pursuance/crypto';
import { ContactUnknownError } from './errors.js';
import { COLLECTIONS, ContactSchema, decodeRecord, toCanonical, type Contact } from './records.js';
import type { ProfileVault } from './vault.js';

/**
 * A profile's contacts and their states (pending: they wrote first; accepted; blocked), kept in
 * memory and written through to the vault before any change is visible. Network reactions to a
 * change (greeting, flushing the outbox, dropping links) are the peer's: this book only decides
 * what the new state is.
 */
export class ContactBook {
  readonly #vault: ProfileVault;
  readonly #self: OnionName;
  readonly #now: () => number;
  readonly #contacts = new Map<OnionName, Contact>();

  public constructor(options: { vault: ProfileVault; self: OnionName; now: () => number }) {
    this.#vault = options.vault;
    this.#self = options.self;
    this.#now = options.now;
  }

  public async load(): Promise<void> {
    for await (const r of this.#vault.all(COLLECTIONS.contacts)) {
      const contact = decodeRecord(ContactSchema, r.value, 'contact');
      this.#contacts.set(contact.onion, contact);
    }
  }

  public all(): Contact[] {
    return [...this.#contacts.values()];
  }

  public get(onion: string): Contact | undefined {
    return this.#contacts.get(onion as OnionName);
  }

  public isBlocked(onion: OnionName): boolean {
    return this.#contacts.get(onion)?.state === 'blocked';
  }

  public isAccepted(onion: OnionName): boolean {
    return this.#contacts.get(onion)?.state === 'accepted';
  }

  /** Add (or accept) a contact by onion name, keeping a name and date it already had. */
  public async add(onion: string, name = ''): Promise<Contact> {
    const id = parseOnionName(onion);
    if (id === this.#self) throw new RangeError('a profile cannot add itself');
    const existing = this.#contacts.get(id);
    return this.#save({ onion: id, name: name || existing?.name || '', state: 'accepted', addedAt: existing?.addedAt ?? this.#now() });
  }

  /** Accept a contact request (ContactUnknownError if nobody by that name wrote to us). */
  public async accept(onion: string): Promise<Contact> {
    const existing = this.#contacts.get(onion as OnionName);
    if (existing === undefined) throw new ContactUnknownError();
    return this.#save({ ...existing, state: 'accepted' });
  }

  public async block(onion: string): Promise<Contact> {
    const id = parseOnionName(onion);
    const existing = this.#contacts.get(id);
    return this.#save({ onion: id, name: existing?.name ?? '', state: 'blocked', addedAt: existing?.addedAt ?? this.#now() });
  }

  /** A stranger wrote to us: record it as a pending contact request. */
  public async addRequest(onion: OnionName): Promise<Contact> {
    return this.#save({ onion, name: '', state: 'pending', addedAt: this.#now() });
  }

  async #save(contact: Contact): Promise<Contact> {
    await this.#vault.write([this.#vault.put(COLLECTIONS.contacts, contact.onion, toCanonical(contact))]);
    this.#contacts.set(contact.onion, contact);
    return contact;
  }
}
