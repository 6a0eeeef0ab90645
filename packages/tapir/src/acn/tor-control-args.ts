/**
 * Reply arguments of tor's control protocol: KEYWORD=Value pairs where Value may be a
 * QuotedString with C-style escapes (control-spec §2.1.1).
 */
import { AcnControlError } from '../errors.js';

export interface ReplyArgs {
  /** Bare words in order (e.g. "AUTH" in "AUTH METHODS=…"). */
  readonly words: readonly string[];
  /** KEY=value pairs with quoted values unescaped. Later duplicates win. */
  readonly values: ReadonlyMap<string, string>;
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { n: 0x0a, r: 0x0d, t: 0x09 };

/**
 * Split a reply line into words and KEY=value pairs. Quoted values use C-style escapes
 * (\\ \" \n \r \t and up to three octal digits). Throws AcnControlError on an unterminated
 * quote; everything else is taken literally.
 */
export function parseReplyArgs(text: string): ReplyArgs {
  const words: string[] = [];
  const values = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && text[j] !== ' ' && text[j] !== '=') j++;
    const key = text.slice(i, j);
    if (text[j] !== '=') {
      words.push(key);
      i = j;
      continue;
    }
    j++;
    if (text[j] === '"') {
      const { value, next } = readQuoted(text, j);
      values.set(key, value);
      i = next;
    } else {
      let k = j;
      while (k < text.length && text[k] !== ' ') k++;
      values.set(key, text.slice(j, k));
      i = k;
    }
  }
  return { words, values };
}

function readQuoted(text: string, openQuote: number): { value: string; next: number } {
  const bytes: number[] = [];
  const pushText = (s: string): void => {
    for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
  };
  let i = openQuote + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') return { value: Buffer.from(bytes).toString('utf8'), next: i + 1 };
    if (c !== '\\') {
      pushText(c);
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) break;
    const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
    if (octal !== null) {
      bytes.push(Number.parseInt(octal[0], 8) & 0xff);
      i += 1 + octal[0].length;
    } else {
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) bytes.push(simple);
      else pushText(e);
      i += 2;
    }
  }
  throw new AcnControlError('malformed tor control reply: unterminated quoted string');
}
