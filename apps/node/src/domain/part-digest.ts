import { sha256, toHex } from '@pursuance/crypto';
import { SHELF, shelfOf } from '../store/projection-store.js';

/**
 * What the node keeps in memory of a stored read-model part: its text, except for a task's
 * history (the later shelf), which is read from the store when one task is opened and never
 * listed. Of a history the memory keeps a digest: enough to tell whether a new text differs
 * (what the projector and the change versions compare), at 35 bytes instead of a history's
 * kilobytes (113,851 histories at a million events). A digest starts with '#', as no JSON text does.
 */
export function heldText(name: string, json: string): string {
  return shelfOf(name) === SHELF.later ? textDigest(json) : json;
}

/** 128 bits of SHA-256: a changed history that keeps its digest would take a second preimage. */
export function textDigest(json: string): string {
  return `#${toHex(sha256(Buffer.from(json, 'utf8'))).slice(0, 32)}`;
}
