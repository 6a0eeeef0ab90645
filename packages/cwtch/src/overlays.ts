import { decodeJSON, encodeJSON } from '@pursuance/codec';
import { z } from 'zod';
import { OverlayInvalidError } from './errors.js';
import { MAX_OVERLAY_TYPE, MAX_PEER_MESSAGE_DATA, OVERLAY } from './protocol-profile.js';

/**
 * Overlays: `{"o": type, "d": string}` — the content of im.cwtch.raw messages and of group
 * payloads. Extra fields are allowed (Cwtch adds some per type) but ignored.
 */
export interface Overlay {
  readonly o: number;
  readonly d: string;
}

const OverlaySchema = z.looseObject({ o: z.number().int().min(0).max(MAX_OVERLAY_TYPE), d: z.string() });
const fail = (reason: string, cause?: unknown) => new OverlayInvalidError(`overlay: ${reason}`, { cause });

export function encodeOverlay(overlay: Overlay): Uint8Array {
  return encodeJSON({ o: overlay.o, d: overlay.d });
}

export function parseOverlay(bytes: Uint8Array, maxBytes: number = MAX_PEER_MESSAGE_DATA): Overlay {
  const parsed = decodeJSON(bytes, OverlaySchema, fail, { maxBytes });
  return { o: parsed.o, d: parsed.d };
}

export const chatOverlay = (text: string): Overlay => ({ o: OVERLAY.chat, d: text });
