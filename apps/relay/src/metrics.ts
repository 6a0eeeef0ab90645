import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { epochAt, epochEndMs, type BoardServer, type RelayStore, type TokenKeyring } from '@pursuance/relay';
import type { TapirService } from '@pursuance/tapir';

export type ServiceName = 'board' | 'token';

export interface MetricSources {
  readonly store: RelayStore;
  readonly board: BoardServer;
  readonly services: Readonly<Record<ServiceName, TapirService>>;
  /** The operator's cap in MB (0 = unlimited). */
  readonly maxStorageMb: number;
  /** The operator's retention window in days (0 = none). */
  readonly retentionDays: number;
  /** The bits per board session renewal (default: the board's own limit). */
  readonly renewalBits?: number;
  /** The token key schedule, for the current epoch and when it ends. */
  readonly tokenKeys?: TokenKeyring;
  readonly now?: () => number;
}

/**
 * Prometheus metrics (prom-client). Counts and codes only: nothing here is derived from
 * message content or identities. The storage cap and pruning are exported so an operator sees
 * how close the relay runs to its cap and how much it has pruned.
 */
export class RelayMetrics {
  public readonly registry = new Registry();
  public readonly posts: Counter<'outcome'>;
  public readonly postsRejected: Counter<'code'>;
  public readonly tokensIssued: Counter;
  public readonly tokenBatches: Counter;
  public readonly replays: Counter;
  public readonly replayedMessages: Counter;
  public readonly pruned: Counter<'reason'>;
  public readonly connectionErrors: Counter<'service' | 'code'>;
  public readonly commitPosts: Histogram;
  public readonly commitSeconds: Histogram;
  public readonly renewals: Counter<'outcome'>;

  public constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'relay_' });
    this.posts = new Counter({
      name: 'relay_posts_total',
      help: 'Acknowledged posts (stored, or idempotent repeats of a stored signature)',
      labelNames: ['outcome'],
      registers,
    });
    this.postsRejected = new Counter({ name: 'relay_posts_rejected_total', help: 'Refused posts by reason', labelNames: ['code'], registers });
    this.tokensIssued = new Counter({ name: 'relay_tokens_issued_total', help: 'Blinded tokens evaluated', registers });
    this.tokenBatches = new Counter({ name: 'relay_token_batches_total', help: 'Token batches issued (one proof of work each)', registers });
    this.replays = new Counter({ name: 'relay_replays_total', help: 'Completed replays', registers });
    this.replayedMessages = new Counter({ name: 'relay_replayed_messages_total', help: 'Messages sent in replays', registers });
    this.pruned = new Counter({
      name: 'relay_pruned_messages_total',
      help: 'Messages deleted, by reason: the storage cap (cap) or the retention window (retention)',
      labelNames: ['reason'],
      registers,
    });
    this.connectionErrors = new Counter({
      name: 'relay_connection_errors_total',
      help: 'Connections closed with an error, by service and error code',
      labelNames: ['service', 'code'],
      registers,
    });
    this.commitPosts = new Histogram({
      name: 'relay_commit_posts',
      help: 'Posts per durable commit (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'relay_commit_duration_seconds',
      help: 'Duration of one durable commit',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    const { store, board, services, maxStorageMb, retentionDays } = sources;
    new Gauge({
      name: 'relay_stored_messages',
      help: 'Messages currently stored',
      registers,
      async collect() {
        this.set((await store.stats()).messages);
      },
    });
    new Gauge({
      name: 'relay_stored_bytes',
      help: 'Bytes of the stored messages (signatures and ciphertexts, without database overhead)',
      registers,
      async collect() {
        this.set((await store.stats()).bytes);
      },
    });
    new Gauge({
      name: 'relay_spent_tokens',
      help: 'Spent token inputs remembered',
      registers,
      async collect() {
        this.set((await store.stats()).spentTokens);
      },
    });
    const { tokenKeys } = sources;
    const now = sources.now ?? Date.now;
    if (tokenKeys !== undefined) {
      new Gauge({
        name: 'relay_token_epoch',
        help: 'The token key epoch issuing now (-1 outside the schedule: the relay needs a new key bundle)',
        registers,
        collect() {
          this.set(epochAt(tokenKeys.schedule, now()) ?? -1);
        },
      });
      new Gauge({
        name: 'relay_token_schedule_end_seconds',
        help: 'When the last committed token epoch ends (Unix seconds): publish a new key bundle before then',
        registers,
      }).set(epochEndMs(tokenKeys.schedule, tokenKeys.schedule.count - 1) / 1000);
    }
    new Gauge({
      name: 'relay_storage_cap_messages',
      help: 'Storage cap in messages (0 = unlimited)',
      registers,
      async collect() {
        this.set((await store.stats()).maxMessages ?? 0);
      },
    });
    new Gauge({ name: 'relay_storage_cap_megabytes', help: 'Storage cap set by the operator in MB (0 = unlimited)', registers }).set(maxStorageMb);
    new Gauge({ name: 'relay_retention_days', help: 'Retention window set by the operator in days (0 = kept until the cap)', registers }).set(retentionDays);
    new Gauge({
      name: 'relay_board_sessions',
      help: 'Open board sessions',
      registers,
      collect() {
        this.set(board.sessionCount);
      },
    });
    new Gauge({
      name: 'relay_connections_open',
      help: 'Open connections by service',
      labelNames: ['service'],
      registers,
      collect() {
        for (const [name, service] of Object.entries(services)) this.set({ service: name }, service.connections().length);
      },
    });
    this.renewals = this.#powMetrics(services, registers, sources.renewalBits ?? board.limits.renewalBits);
    new Gauge({
      name: 'relay_connections',
      help:
        'Connections since start by service and state (accepted, established, refused; evictedPending and evictedIdle: dropped ' +
        'for a newcomer at the pending-handshake or connection limit, evictedUnpaid: those of evictedPending that had presented ' +
        'no proof of work; admissionDemands: proof of work demanded before the handshake, admissionPaid: admitted on it; ' +
        'idleTimedOut: closed by the idle timeout)',
      labelNames: ['service', 'state'],
      registers,
      collect() {
        for (const [name, service] of Object.entries(services)) {
          for (const state of [
            'accepted',
            'established',
            'refused',
            'evictedPending',
            'evictedUnpaid',
            'evictedIdle',
            'idleTimedOut',
            'admissionDemands',
            'admissionPaid',
          ] as const) {
            this.set({ service: name, state }, service.metrics[state]);
          }
        }
      },
    });
  }

  /**
   * Work asked before the handshake and per session renewal: the difficulty a newcomer faces
   * right now (it rises with the connections in setup), the configured policy, and renewals.
   */
  #powMetrics(services: MetricSources['services'], registers: Registry[], renewalBits: number): Counter<'outcome'> {
    new Gauge({
      name: 'relay_handshake_pow_bits',
      help: 'Proof-of-work bits a new connection must present before any handshake work, by service (0 = none: not under pressure)',
      labelNames: ['service'],
      registers,
      collect() {
        for (const [name, service] of Object.entries(services)) this.set({ service: name }, service.admissionBits);
      },
    });
    new Gauge({
      name: 'relay_handshake_pow_policy',
      help: 'Handshake proof-of-work policy: threshold (connections in setup), bits at the threshold, max bits',
      labelNames: ['setting'],
      registers,
      collect() {
        const policy = services.board.admission;
        this.set({ setting: 'threshold' }, policy.threshold);
        this.set({ setting: 'bits' }, policy.bits);
        this.set({ setting: 'max_bits' }, policy.maxBits);
      },
    });
    new Gauge({ name: 'relay_renewal_pow_bits', help: 'Proof-of-work bits a board session pays per renewal (0 = free)', registers }).set(renewalBits);
    return new Counter({
      name: 'relay_board_renewals_total',
      help: 'Board session renewal requests by outcome: renewed (valid work), challenge (asked for one), RENEWAL_INVALID (refused)',
      labelNames: ['outcome'],
      registers,
    });
  }

  /** Serve `/metrics` on 127.0.0.1 only. Resolves with the bound port. */
  public async serve(port: number): Promise<{ port: number; close: () => Promise<void> }> {
    const server: Server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}
