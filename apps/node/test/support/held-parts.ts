import { heldText } from '../../src/domain/part-digest.js';

/** Read-model parts as the node's memory holds them (a history as its digest): what the cache is compared with. */
export function asHeld(parts: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...parts].map(([name, json]) => [name, heldText(name, json)]));
}
