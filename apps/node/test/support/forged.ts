import { fromHex, type Identity } from '@pursuance/crypto';
import { signEvent, type PursuanceLog, type SignedEvent } from '@pursuance/pursuance';

/** A rename signed by `stranger` (no member) on top of `log`'s heads: what the fold must refuse. */
export function forgedRename(stranger: Identity, log: PursuanceLog, seq: number, time: number, name: string): SignedEvent {
  return signEvent(stranger, {
    pursuance: fromHex(log.id),
    seq,
    parents: log.heads().map((id) => fromHex(id)),
    time,
    kind: 'member.rename',
    audience: [],
    body: { name },
  });
}
