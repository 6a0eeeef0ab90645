import { ref, type Ref } from 'vue';

/**
 * The per-node API token: entered once (or brought by the node's sign-in link), kept in
 * sessionStorage (gone when the tab closes, never in localStorage or a cookie), cleared when
 * the node refuses it.
 */
export const TOKEN_KEY = 'pursuance.token';
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** `token XXXX` (the node's line), `token=XXXX` (the sign-in link), as a whole word. */
const LABELLED_TOKEN = /(?:^|[^A-Za-z0-9_-])token(?:=|:?[ \t]+)([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/;

export interface Session {
  readonly token: Ref<string | null>;
  /** Why the last token was dropped, for the sign-in form. */
  readonly notice: Ref<string | null>;
  set(token: string): void;
  clear(notice?: string): void;
}

/** The address bar, as much of `window` as the sign-in link needs. */
export type AddressBar = Pick<Window, 'location' | 'history'>;

function isTokenShaped(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/**
 * The token in what a member pasted: the token alone, the node's whole `token …` line, a line
 * of the demo's table, or the sign-in link (`…/#token=…`); null when there is none.
 */
export function extractToken(text: string): string | null {
  const trimmed = text.trim();
  if (isTokenShaped(trimmed)) return trimmed;
  return LABELLED_TOKEN.exec(trimmed)?.[1] ?? null;
}

/**
 * The sign-in link's token (`#token=…`, a fragment: the browser never sends it to the node or
 * in a Referer), taken out of the address bar with history.replaceState so it is not left in
 * the tab's history entry, a bookmark or a screen share. `found` says a token parameter was
 * there, `token` is null when it was not a token.
 */
export function takeTokenFromAddress(bar: AddressBar): { found: boolean; token: string | null } {
  const { hash, pathname, search } = bar.location;
  if (!hash.startsWith('#')) return { found: false, token: null };
  const params = new URLSearchParams(hash.slice(1));
  if (!params.has('token')) return { found: false, token: null };
  const value = params.get('token') ?? '';
  params.delete('token');
  const rest = params.toString();
  try {
    bar.history.replaceState(bar.history.state, '', `${pathname}${search}${rest ? `#${rest}` : ''}`);
  } catch {
    // an address that cannot be rewritten (sandboxed frame): the token is still used
  }
  return { found: true, token: isTokenShaped(value) ? value : null };
}

/** The session's own notices, in the chosen language (the app context passes its catalog's). */
export interface SessionWords {
  readonly linkCutShort: string;
}

const ENGLISH: SessionWords = {
  linkCutShort: 'The sign-in link was cut short. Open the whole link the node printed, or paste its token here.',
};

/**
 * The tab's session. A sign-in link in the address (`bar`, the page's window by default) takes
 * precedence over a token kept from before, and is stored as a pasted one would be.
 */
export function createSession(
  storage: Storage | undefined = globalThis.sessionStorage,
  bar: AddressBar | undefined = globalThis.window,
  words: SessionWords = ENGLISH,
): Session {
  const read = (): string | null => {
    try {
      return storage?.getItem(TOKEN_KEY) ?? null;
    } catch {
      return null;
    }
  };
  const token = ref<string | null>(read());
  const notice = ref<string | null>(null);
  const session: Session = {
    token,
    notice,
    set(value: string) {
      token.value = value;
      notice.value = null;
      try {
        storage?.setItem(TOKEN_KEY, value);
      } catch {
        // storage full or disabled: the token lives for this page only
      }
    },
    clear(why?: string) {
      token.value = null;
      notice.value = why ?? null;
      try {
        storage?.removeItem(TOKEN_KEY);
      } catch {
        // nothing stored
      }
    },
  };
  const link = bar ? takeTokenFromAddress(bar) : { found: false, token: null };
  if (link.token !== null) session.set(link.token);
  else if (link.found) notice.value = words.linkCutShort;
  return session;
}
