import { SnapshotError, attestationPolicy, snapshotAt } from '@pursuance/pursuance';
import { NoStableFrontierError } from './errors.js';
import type { PursuanceEntry, PursuanceRegistry } from './registry.js';
import { snapshotToAttest } from './snapshots.js';

/** Events a pursuance holds before its members vouch for a snapshot unasked. */
export const AUTO_VOUCH_EVERY = 1000;
/**
 * A new attestation once the log has grown by this factor since this member's last one: a
 * joiner then replays at most a fifth of the history after the snapshot, and vouching costs one
 * fold per quarter of growth (amortised: a constant share of the fold time). A snapshot must also
 * cover that much: a stable point that lags far behind (members writing beside each other) is
 * not worth signing.
 */
const GROWTH = 1.25;

/** The fewest events a snapshot this member vouches for unasked must cover: `every`, and a quarter more than its last one. */
export function smallestVouch(entry: PursuanceEntry, every: number): number {
  const log = entry.log;
  let last = 0;
  for (const e of log.eventsBy(entry.author.identity.onion)) {
    if (e.header.kind === 'snapshot.attest' && log.isAccepted(e.id)) last = Math.max(last, (e.header.body as { events: number }).events);
  }
  return Math.max(every, Math.ceil(last * GROWTH));
}

/** Whether this member should try to vouch now: it may, and the history grew enough since its last attestation or attempt. */
export function vouchDue(entry: PursuanceEntry, every: number, triedAt: number): boolean {
  if (every <= 0) return false;
  const log = entry.log;
  const size = log.size;
  if (size < every || size < triedAt * GROWTH) return false;
  if (!attestationPolicy(log.state()).eligible.has(entry.author.identity.onion)) return false;
  return size >= smallestVouch(entry, every);
}

/** Nothing worth signing yet: the stable point is vouched for already, or covers too little. */
class NotNow extends Error {}

/**
 * Members vouch for snapshots without being asked, so a newcomer to an old pursuance starts
 * from one at once instead of waiting for members to press "vouch". Each node that may vouch
 * (the rules' `snapshots.from`) signs once its pursuance holds `every` events, and again each
 * time the history grows by a quarter; it co-signs a snapshot others vouched for when its own
 * history agrees (snapshotToAttest), so attestations add up to the rules' count.
 */
export class AutoVoucher {
  readonly #tried = new Map<string, number>();
  readonly #off: () => void;

  public constructor(
    private readonly registry: PursuanceRegistry,
    private readonly every: number = AUTO_VOUCH_EVERY,
  ) {
    this.#off = registry.onChange((change) => this.#consider(change.pursuanceId));
  }

  public stop(): void {
    this.#off();
  }

  #consider(pursuanceId: string): void {
    if (!this.registry.isLoaded(pursuanceId)) return;
    const entry = this.registry.get(pursuanceId);
    if (!vouchDue(entry, this.every, this.#tried.get(pursuanceId) ?? 0)) return;
    // Whatever comes of it, the next try waits for the history to grow again.
    this.#tried.set(pursuanceId, entry.log.size);
    this.registry
      .act(pursuanceId, (author) => {
        const { existing, frontier } = snapshotToAttest(entry);
        if (existing) throw new NotNow();
        let snapshot;
        try {
          snapshot = snapshotAt(author.log, frontier);
        } catch (err) {
          if (err instanceof SnapshotError) throw new NotNow();
          throw err;
        }
        // Where members write beside each other the stable point lags: too little to be worth a join.
        if (snapshot.base.events < smallestVouch(entry, this.every)) throw new NotNow();
        return author.attestSnapshot(snapshot);
      })
      .catch((err: unknown) => {
        if (err instanceof NotNow || err instanceof NoStableFrontierError) return;
        const code = (err as { code?: unknown }).code;
        this.registry.warn(`pursuance ${pursuanceId}: vouching for a snapshot failed (${typeof code === 'string' ? code : 'error'})`);
      });
  }
}
