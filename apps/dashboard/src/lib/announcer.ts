import { ref, type Ref } from 'vue';

/**
 * Messages for the page's aria-live regions: `polite` for updates that arrive on their own
 * (a task changed elsewhere), `assertive` for the outcome of what the user just did.
 */
export interface Announcer {
  readonly polite: Ref<string>;
  readonly assertive: Ref<string>;
  say(message: string, urgency?: 'polite' | 'assertive'): void;
  /** Empty the visible status line (what it said is about a page no longer shown). */
  clear(): void;
}

export function createAnnouncer(): Announcer {
  const polite = ref('');
  const assertive = ref('');
  let n = 0;
  return {
    polite,
    assertive,
    say(message, urgency = 'polite') {
      // Screen readers announce a change of text: a repeated message gets an invisible variation.
      n += 1;
      const text = n % 2 ? message : `${message}\u200b`;
      if (urgency === 'assertive') assertive.value = text;
      else polite.value = text;
    },
    clear() {
      polite.value = '';
    },
  };
}
