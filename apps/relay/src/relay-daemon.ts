import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScryptParams } from '@pursuance/crypto';
import { MESSAGES_PER_MB, RelayServer, STORAGE_DAY_MS, relayCause, type RelayStore } from '@pursuance/relay';
import {
  AcnConfigError,
  TorAbortedError,
  TorBootstrapTimeoutError,
  TorLaunchError,
  TorNotFoundError,
  openAcn,
  type ACN,
  type AcnConfig,
  type AcnStatus,
} from '@pursuance/tapir';
import type { RelayConfig } from './config.js';
import { lockDataDir } from './data-dir-lock.js';
import { DaemonError, ExitCode } from './errors.js';
import { loadOrCreateRelayKeys } from './keystore.js';
import { code, type Logger } from './logger.js';
import { RelayMetrics, type ServiceName } from './metrics.js';
import { PostgresRelayStore, StoreInUseError } from './store/postgres-relay-store.js';
import { redactSecrets, redactStoreUrl } from './store/store-url.js';
import { TypeormRelayStore, type CommitInfo } from './store/typeorm-relay-store.js';

export interface RelayDaemonOptions {
  readonly config: RelayConfig;
  readonly password: string;
  readonly log: Logger;
  /** Only for tests: cheaper scrypt when creating keys. */
  readonly scryptParams?: ScryptParams;
  /** An external tor's control password (from --tor-control-password-file or the environment). */
  readonly torControlPassword?: string;
  /** Aborts a managed tor's bootstrap (a signal during start-up). */
  readonly signal?: AbortSignal;
  /** Only for tests: the store's clock (retention). */
  readonly now?: () => number;
}

/** The store the daemon runs on: either database, with what it applied on open. */
type DaemonStore = RelayStore & { readonly appliedMigrations: readonly string[] };

/** How often an idle relay looks for messages past the retention window. */
const PRUNE_SWEEP_MS = 60_000;

export function databasePath(dataDir: string): string {
  return join(dataDir, 'relay.sqlite');
}

/**
 * The relay daemon: the core RelayServer wired to its persistent keys, its store (SQLite in the
 * data dir, or PostgreSQL), an ACN, Prometheus metrics and JSON logs. Start-up failures become
 * DaemonErrors with the exit code the CLI documents; `stop` is the graceful path (stop accepting, commit what is queued,
 * checkpoint, unpublish).
 */
export class RelayDaemon {
  public readonly relay: RelayServer;
  public readonly metricsPort: number | undefined;
  readonly #store: DaemonStore;
  readonly #acn: ACN;
  readonly #log: Logger;
  readonly #closeMetrics: (() => Promise<void>) | undefined;
  readonly #unlock: () => Promise<void>;
  readonly #sweep: NodeJS.Timeout;
  #stopping: Promise<void> | undefined;

  private constructor(parts: {
    relay: RelayServer;
    store: DaemonStore;
    acn: ACN;
    log: Logger;
    metrics: { port: number; close: () => Promise<void> } | undefined;
    unlock: () => Promise<void>;
    sweep: NodeJS.Timeout;
  }) {
    this.relay = parts.relay;
    this.#store = parts.store;
    this.#acn = parts.acn;
    this.#log = parts.log;
    this.metricsPort = parts.metrics?.port;
    this.#closeMetrics = parts.metrics?.close;
    this.#unlock = parts.unlock;
    this.#sweep = parts.sweep;
  }

  public get exportedBundle(): string {
    return this.relay.exportedBundle;
  }

  public static async start(options: RelayDaemonOptions): Promise<RelayDaemon> {
    const { config, log } = options;
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    await chmod(config.dataDir, 0o700);
    const unlock = await lockDataDir(config.dataDir);
    const cleanups: (() => Promise<unknown>)[] = [unlock];
    const fail = async (err: unknown): Promise<never> => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      throw err;
    };
    try {
      const { keys, created, upgraded } = await loadOrCreateRelayKeys(config.dataDir, options.password, options.scryptParams, options.now);
      cleanups.push(() => Promise.resolve(keys.tokenKeys.wipe()));
      if (upgraded) log.warn('keys.upgraded', { reason: code('token_epochs'), action: code('share_new_key_bundle') });
      let onCommit: (info: CommitInfo) => void = () => undefined;
      const maxMessages = config.maxStorageMb > 0 ? config.maxStorageMb * MESSAGES_PER_MB : undefined;
      const retentionMs = config.retentionDays > 0 ? config.retentionDays * STORAGE_DAY_MS : undefined;
      const storeOptions = {
        maxMessages,
        retentionMs,
        bucketMs: config.bucketSeconds * 1000,
        ...(options.now !== undefined ? { now: options.now } : {}),
        onCommit: (info: CommitInfo) => onCommit(info),
      };
      let store: DaemonStore;
      try {
        if (config.store.kind === 'postgres') {
          const postgres = await PostgresRelayStore.open({ ...storeOptions, url: config.store.url });
          // fsync off on the server: a server crash can lose posts it acknowledged. The operator's call, but said.
          if (!postgres.serverFsync) log.warn('storage.fsync_off', { store: code('postgres') });
          store = postgres;
        } else {
          store = await TypeormRelayStore.open({ ...storeOptions, path: databasePath(config.dataDir) });
        }
      } catch (cause) {
        if (cause instanceof StoreInUseError) throw new DaemonError(cause.message, ExitCode.dataDirInUse, { cause });
        // The driver's messages name hosts and users, never the password; redacted all the same.
        const where = config.store.kind === 'postgres' ? ` ${redactStoreUrl(config.store.url)}` : '';
        throw new DaemonError(redactSecrets(`cannot open the relay database${where}: ${(cause as Error).message}`, config.store), ExitCode.storage, { cause });
      }
      cleanups.push(() => store.close());
      const acn = await openNetwork(config, options);
      cleanups.push(() => acn.close());
      watchNetwork(acn, log);
      let relay: RelayServer;
      try {
        relay = await RelayServer.start({
          acn,
          boardIdentity: keys.boardIdentity,
          tokenIdentity: keys.tokenIdentity,
          tokenKeys: keys.tokenKeys,
          ...(options.now !== undefined ? { now: options.now } : {}),
          store,
          powDifficulty: config.powDifficulty,
          service: {
            maxConnections: config.maxConnections,
            maxPendingHandshakes: config.maxPendingHandshakes,
            handshakeTimeoutMs: config.handshakeTimeoutMs,
            admission: { threshold: config.handshakePowThreshold, bits: config.handshakePowBits, maxBits: config.handshakePowMaxBits },
          },
          idleTimeoutMs: config.idleTimeoutMs,
          boardLimits: { renewalBits: config.renewalPowBits },
        });
      } catch (cause) {
        throw new DaemonError(`cannot publish the relay services: ${(cause as Error).message}`, ExitCode.network, { cause });
      }
      cleanups.push(() => relay.close());
      const metrics = new RelayMetrics({
        store,
        board: relay.board,
        services: { board: relay.boardService, token: relay.tokenService },
        maxStorageMb: config.maxStorageMb,
        retentionDays: config.retentionDays,
        tokenKeys: keys.tokenKeys,
        ...(options.now !== undefined ? { now: options.now } : {}),
      });
      let served: { port: number; close: () => Promise<void> } | undefined;
      if (config.metrics) {
        try {
          served = await metrics.serve(config.metricsPort);
        } catch (cause) {
          throw new DaemonError(`cannot serve metrics on 127.0.0.1:${config.metricsPort}: ${(cause as Error).message}`, ExitCode.network, { cause });
        }
      }
      onCommit = (info) => {
        if (info.posts > 0) {
          metrics.commitPosts.observe(info.posts);
          metrics.commitSeconds.observe(info.seconds);
        }
        for (const [reason, count] of [
          ['cap', info.pruned],
          ['retention', info.expired],
        ] as const) {
          if (count === 0) continue;
          metrics.pruned.inc({ reason }, count);
          log.info('storage.pruned', { messages: count, reason: code(reason) });
        }
      };
      // Posting prunes as it goes; this covers an idle relay, days passing while it was down,
      // and a cap lowered since the last start.
      const sweepOnce = (): void => {
        void store.pruneDue().catch((err: unknown) => log.warn('storage.prune_failed', { code: code((err as { code?: string }).code ?? 'unknown') }));
        // Spent tokens of epochs no longer redeemed protect nothing: forget them.
        void relay
          .dropExpiredTokens()
          .then((dropped) => {
            if (dropped > 0) log.info('tokens.expired', { spentTokens: dropped });
          })
          .catch((err: unknown) => log.warn('tokens.expire_failed', { code: code((err as { code?: string }).code ?? 'unknown') }));
      };
      sweepOnce();
      const sweep = setInterval(sweepOnce, PRUNE_SWEEP_MS).unref();
      cleanups.push(() => Promise.resolve(clearInterval(sweep)));
      wire(relay, metrics, log);
      const stats = await store.stats();
      log.info('relay.started', {
        keysCreated: created,
        store: code(config.store.kind),
        migrationsApplied: store.appliedMigrations.length,
        messages: stats.messages,
        spentTokens: stats.spentTokens,
        maxMessages: stats.maxMessages ?? 0,
        retentionDays: config.retentionDays,
        powDifficulty: config.powDifficulty,
        tokenEpoch: relay.tokens.keys.issuing(options.now?.() ?? Date.now())?.epoch ?? -1,
        acn: code(acn.kind),
        board: code(relay.bundle.boardOnion),
        tokenService: code(relay.bundle.tokenOnion),
      });
      return new RelayDaemon({ relay, store, acn, log, metrics: served, unlock, sweep });
    } catch (err) {
      return fail(err);
    }
  }

  public stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#sweep);
      await this.relay.close();
      await this.#store.close();
      await this.#acn.close();
      await this.#closeMetrics?.();
      await this.#unlock();
      this.#log.info('relay.stopped');
    })();
    return this.#stopping;
  }
}

/**
 * The relay's network: loopback, the operator's tor, or a tor of its own under `<data dir>/tor`
 * (bootstrap progress logged). Failures map to the documented exit codes: bad settings 2, tor
 * missing or failing to start 1, tor not reaching the network in time 4.
 */
async function openNetwork(config: RelayConfig, options: RelayDaemonOptions): Promise<ACN> {
  const acnConfig: AcnConfig = {
    ...config.acn,
    ...(options.torControlPassword !== undefined ? { torControlPassword: options.torControlPassword } : {}),
  };
  try {
    return await openAcn(acnConfig, {
      programDataDir: config.dataDir,
      signal: options.signal,
      onProgress: (p) => options.log.info('tor.bootstrap', { progress: p.progress, phase: code(p.tag) }),
      // Our own tor died (crash, OOM kill): it is started again on the same ports; say so.
      onRelaunch: (e) => {
        if (e.kind === 'exited') options.log.warn('tor.exited', { pid: e.pid, retryInMs: e.delayMs });
        else if (e.kind === 'failed') options.log.warn('tor.relaunch_failed', { attempt: e.attempt, code: code(e.code), retryInMs: e.delayMs });
        else options.log.info('tor.relaunched', { attempt: e.attempt, pid: e.pid, downMs: e.downMs });
      },
    });
  } catch (cause) {
    if (cause instanceof AcnConfigError) throw new DaemonError(cause.message, ExitCode.usage, { cause });
    if (cause instanceof TorBootstrapTimeoutError) throw new DaemonError(cause.message, ExitCode.network, { cause });
    if (cause instanceof TorNotFoundError || cause instanceof TorLaunchError || cause instanceof TorAbortedError) {
      throw new DaemonError(cause.message, ExitCode.failure, { cause });
    }
    throw cause;
  }
}

/** Logs the network going down and coming back (a tor restart): the relay itself keeps running and re-publishes. */
function watchNetwork(acn: ACN, log: Logger): void {
  let last: AcnStatus['state'] | undefined;
  acn.onStatus?.((status) => {
    if (status.state === last) return;
    last = status.state;
    if (status.state === 'down') log.warn('network.down', { outages: status.outages, code: code(status.lastError ?? 'unknown') });
    else if (status.state === 'up') log.info('network.up', { outages: status.outages });
  });
}

/** Metrics and debug logs for relay events: counts and codes only. */
function wire(relay: RelayServer, metrics: RelayMetrics, log: Logger): void {
  relay.board.on('posted', (outcome) => {
    metrics.posts.inc({ outcome });
    log.debug('post.acknowledged', { outcome: code(outcome) });
  });
  relay.board.on('postRejected', (reason) => {
    metrics.postsRejected.inc({ code: reason });
    log.debug('post.rejected', { code: code(reason) });
  });
  relay.board.on('renewal', (outcome) => {
    metrics.renewals.inc({ outcome });
    log.debug('session.renewal', { outcome: code(outcome) });
  });
  relay.board.on('replayed', (count) => {
    metrics.replays.inc();
    metrics.replayedMessages.inc(count);
    log.debug('replay.done', { messages: count });
  });
  relay.tokens.on('issued', (count) => {
    metrics.tokenBatches.inc();
    metrics.tokensIssued.inc(count);
    log.debug('tokens.issued', { tokens: count });
  });
  const services: [ServiceName, RelayServer['boardService']][] = [
    ['board', relay.boardService],
    ['token', relay.tokenService],
  ];
  for (const [name, service] of services) {
    service.on('connectionError', (_conn, error) => {
      const reason = relayCause(error)?.code ?? error.code;
      metrics.connectionErrors.inc({ service: name, code: reason });
      log.debug('connection.closed', { service: code(name), code: code(reason) });
    });
  }
}
