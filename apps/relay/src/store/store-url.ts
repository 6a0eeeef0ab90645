/**
 * Which database the relay keeps its messages and spent tokens in: SQLite in the data dir
 * (the default) or a PostgreSQL database named by a URL. The URL may carry a password, so it
 * is never shown as given: every message names it through `redactStoreUrl`.
 */
export type StoreChoice = { readonly kind: 'sqlite' } | { readonly kind: 'postgres'; readonly url: string };

export const SQLITE_STORE: StoreChoice = { kind: 'sqlite' };

/** A --store value that is neither "sqlite" nor a usable postgres:// URL. The message never holds the password. */
export class StoreUrlError extends Error {
  public readonly code = 'BAD_STORE_URL';
  public constructor(message: string) {
    super(message);
    this.name = 'StoreUrlError';
  }
}

const EXPECTED = 'expected "sqlite" or postgres://user@host:port/database';

export function parseStoreChoice(value: string): StoreChoice {
  const trimmed = value.trim();
  if (trimmed === 'sqlite') return SQLITE_STORE;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    // Not echoed: an unparsable value may still hold a password.
    throw new StoreUrlError(`--store: not a URL; ${EXPECTED}`);
  }
  // Not echoed either: in "user:password@host/db" the "scheme" is the user and the rest the password.
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new StoreUrlError(`--store: unsupported scheme; ${EXPECTED}`);
  const shown = redactStoreUrl(trimmed);
  // A unix-socket directory may stand in for the host (postgres:///db?host=/var/run/postgresql).
  if (url.hostname === '' && !url.searchParams.has('host')) throw new StoreUrlError(`--store ${shown}: no host; ${EXPECTED}`);
  if (!/^\/[^/]+$/.test(url.pathname)) throw new StoreUrlError(`--store ${shown}: name exactly one database; ${EXPECTED}`);
  if (url.hash !== '') throw new StoreUrlError(`--store ${shown}: a fragment (#) has no meaning here; ${EXPECTED}`);
  return { kind: 'postgres', url: trimmed };
}

/** The URL with its password (and any `password` query parameter) replaced by "***". */
export function redactStoreUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return '(unparsable URL)';
  }
  if (url.password !== '') url.password = '***';
  if (url.searchParams.has('password')) url.searchParams.set('password', '***');
  return url.toString().replace('%2A%2A%2A', '***');
}

/** `text` with every form of the URL's password (as written, decoded) replaced by "***": for errors from the driver. */
export function redactSecrets(text: string, choice: StoreChoice): string {
  if (choice.kind !== 'postgres') return text;
  const secrets = new Set<string>();
  try {
    const url = new URL(choice.url);
    // The password as typed too: the URL parser normalizes it (escapes spaces, keeps stray "%").
    const authority = choice.url.slice(choice.url.indexOf('//') + 2);
    const userinfo = authority.slice(0, Math.max(0, authority.lastIndexOf('@')));
    const typed = userinfo.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : '';
    for (const raw of [url.password, url.searchParams.get('password') ?? '', typed]) {
      if (raw === '') continue;
      secrets.add(raw);
      try {
        secrets.add(decodeURIComponent(raw));
      } catch {
        // An invalid escape: the raw form is covered.
      }
    }
  } catch {
    return text.split(choice.url).join(redactStoreUrl(choice.url));
  }
  let out = text.split(choice.url).join(redactStoreUrl(choice.url));
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}
