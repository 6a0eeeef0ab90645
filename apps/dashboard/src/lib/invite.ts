/**
 * Invites and event bundles. Until group sync reaches a newcomer, a member hands them the
 * pursuance's signed events (GET /api/pursuances/:id/events) as a bundle to paste; the
 * newcomer's node verifies every event and signature itself (POST …/events). The invite
 * string (also shown as a QR code) names the pursuance and the inviting node.
 */
const INVITE_PREFIX = 'pursuance-invite:1:';
const ID = /^[0-9a-f]{64}$/;
const ONION = /^[a-z2-7]{56}$/;

export interface Invite {
  readonly pursuanceId: string;
  readonly inviter: string;
}

export function inviteString(invite: Invite): string {
  return `${INVITE_PREFIX}${invite.pursuanceId}:${invite.inviter}`;
}

export function parseInvite(text: string): Invite | null {
  const s = text.trim();
  if (!s.startsWith(INVITE_PREFIX)) return null;
  const [pursuanceId, inviter] = s.slice(INVITE_PREFIX.length).split(':');
  if (!pursuanceId || !inviter || !ID.test(pursuanceId) || !ONION.test(inviter)) return null;
  return { pursuanceId, inviter };
}

export interface EventBundle {
  readonly format: 'pursuance-events/1';
  readonly pursuance: string;
  readonly events: readonly string[];
}

export function makeBundle(pursuanceId: string, events: readonly string[]): string {
  const bundle: EventBundle = { format: 'pursuance-events/1', pursuance: pursuanceId, events };
  return JSON.stringify(bundle);
}

export type ParsedBundle = { ok: true; bundle: EventBundle } | { ok: false; error: string };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function parseBundle(text: string): ParsedBundle {
  let json: unknown;
  try {
    json = JSON.parse(text.trim());
  } catch {
    return { ok: false, error: 'the bundle is not valid JSON: copy it again from the member who invited you' };
  }
  const b = json as Partial<EventBundle>;
  if (b?.format !== 'pursuance-events/1') return { ok: false, error: 'not a pursuance event bundle (format "pursuance-events/1")' };
  if (typeof b.pursuance !== 'string' || !ID.test(b.pursuance)) return { ok: false, error: 'the bundle names no valid pursuance id' };
  if (!Array.isArray(b.events) || b.events.length === 0) return { ok: false, error: 'the bundle holds no events' };
  if (!b.events.every((e) => typeof e === 'string' && BASE64.test(e))) return { ok: false, error: 'the bundle holds an event that is not base64' };
  return { ok: true, bundle: { format: 'pursuance-events/1', pursuance: b.pursuance, events: b.events } };
}
