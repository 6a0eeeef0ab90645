import { ref, type Ref } from 'vue';

/**
 * The per-node API token: entered once, kept in sessionStorage (gone when the tab closes,
 * never in localStorage or a cookie), cleared when the node refuses it.
 */
export const TOKEN_KEY = 'pursuance.token';
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export interface Session {
  readonly token: Ref<string | null>;
  /** Why the last token was dropped, for the sign-in form. */
  readonly notice: Ref<string | null>;
  set(token: string): void;
  clear(notice?: string): void;
}

export function isTokenShaped(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

export function createSession(storage: Storage | undefined = globalThis.sessionStorage): Session {
  const read = (): string | null => {
    try {
      return storage?.getItem(TOKEN_KEY) ?? null;
    } catch {
      return null;
    }
  };
  const token = ref<string | null>(read());
  const notice = ref<string | null>(null);
  return {
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
}
