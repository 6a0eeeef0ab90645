/**
 * How the dashboard's searches compare text (the board's search, the task picker): lower case,
 * accents off, so "Réunion" is found by "reunion" and "REUNIÓN" alike.
 */
export function foldText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase('und');
}

/** A search's words, folded; an empty or blank search has none (it matches everything). */
export function searchWords(query: string): string[] {
  return foldText(query)
    .split(/\s+/u)
    .filter((w) => w.length > 0);
}
