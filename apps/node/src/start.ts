import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Identity, ScryptParams } from '@pursuance/crypto';
import type { CwtchPeer, CwtchPeerOptions } from '@pursuance/cwtch';
import { displayNameProblem } from '@pursuance/pursuance';
import type { TypeormProfileStore } from '@pursuance/cwtch-store-sqlite';
import { LoopbackACN, type ACN } from '@pursuance/tapir';
import { PortInUseError, StartAbortedError, loadOrCreateToken, readDashboardPort, writeDashboardPort } from './config.js';
import { AUTO_VOUCH_EVERY, AutoVoucher } from './domain/auto-vouch.js';
import { PursuanceRegistry, type ReplayProgress } from './domain/registry.js';
import { SealedSpill } from './store/encoding-spill.js';
import { loadTemplates } from './domain/templates.js';
import { HttpBinding } from './http/binding.js';
import type * as HttpSideModule from './http/serve.js';
import { DEFAULT_DASHBOARD_DIR } from './http/static.js';
import { openProfile } from './identity-store.js';
import { EventStore } from './store/event-store.js';
import { makePrivateDir } from './store/private-dir.js';
import { SnapshotTransfer } from './sync/snapshot-transfer.js';
import { JoinService } from './sync/join.service.js';
import { AdmissionService } from './sync/admission.service.js';
import { DropBoxFollows } from './sync/drop-box-follows.js';
import { LinkService } from './sync/link.service.js';
import { SyncService } from './sync/sync.service.js';
import { collectFully } from './full-collection.js';

/**
 * How long start-up's background load waits, between two pages of a log, for responses being
 * sent to finish. A read answers in milliseconds; the bound keeps a client that never stops
 * asking from holding the load up for more than this per page.
 */
const READS_FIRST_MS = 100;

/** Stored events from which a node collects its garbage fully once loaded (full-collection.ts). */
const COLLECT_AFTER_LOADING = 20_000;

export const DEFAULT_TEMPLATES_DIR = fileURLToPath(new URL('../../../rules/templates', import.meta.url));

export interface StartNodeOptions {
  readonly dataDir: string;
  readonly password: string;
  /**
   * The dashboard's port; the node always binds 127.0.0.1. A number is exactly that port (0: any
   * free one), remembered nowhere; a port in use is a PortInUseError. A StablePort is the data
   * dir's own port (see StablePort). Default 0.
   */
  readonly port?: number | StablePort;
  readonly templatesDir?: string;
  readonly scrypt?: ScryptParams;
  readonly logger?: LoggerService | false;
  readonly onReplayProgress?: (p: ReplayProgress) => void;
  /**
   * Called once the API listens, before the pursuances' logs are loaded: from then on its read
   * routes answer from the persisted read models (others answer 503 with Retry-After).
   */
  readonly onListening?: (url: string, loading: { readonly pursuances: number; readonly events: number }) => void;
  /** Start-up waits for this before loading the logs (tests and tools: what the API serves meanwhile). */
  readonly beforeLoad?: () => Promise<void>;
  /**
   * Calls the start off: aborted while the logs load (minutes at a million events), the load
   * ends at its next page, everything opened is closed again, and startNode throws
   * StartAbortedError. What a Ctrl-C during a long start-up expects.
   */
  readonly signal?: AbortSignal;
  readonly clock?: () => number;
  /**
   * Whether joining asks the inviter for an attested snapshot to start from (default true);
   * false replays the whole history (benchmarks compare the two).
   */
  readonly snapshotJoins?: boolean;
  /**
   * Vouch for a snapshot unasked once a pursuance holds this many events, and again at each
   * quarter of growth, where the rules let this member vouch (default AUTO_VOUCH_EVERY; 0: never).
   */
  readonly autoVouchEvery?: number;
  /** A load that folds this many events keeps its fold for the next start (default KEEP_FOLD_AFTER; tests lower it). */
  readonly keepFoldAfter?: number;
  /** Built dashboard to serve at / (default: apps/dashboard/dist, if built; null: none). */
  readonly dashboardDir?: string | null;
  /** The network (default: LoopbackACN on the shared registry). */
  readonly acn?: ACN;
  /** Display name for a new profile. */
  readonly displayName?: string;
  /** Also give an existing profile `displayName` (the CLI's `--name`; otherwise the name set in the dashboard stays). */
  readonly renameProfile?: boolean;
  /** Cwtch peer timings (tests shorten retries). */
  readonly peerOptions?: Partial<Omit<CwtchPeerOptions, 'store' | 'acn' | 'password'>>;
}

/**
 * The data dir's own dashboard port, so its address survives restarts (bookmarks, an open tab):
 * the port it was given before if that is free; on the first start `firstChoice` if free, else
 * any free port; the port chosen is remembered in the data dir. A remembered port that is taken
 * gives way to a free port for this run only (the remembered one is kept for the next).
 */
export interface StablePort {
  readonly stable: true;
  readonly firstChoice?: number;
}

/** How the dashboard's port was found, for the program to tell its user when it changed. */
export type PortOutcome =
  /** The number asked for. */
  | { readonly kind: 'given' }
  /** The data dir's remembered port. */
  | { readonly kind: 'remembered' }
  /** A first start: this port is now the data dir's (`busy`: the first choice, which was taken). */
  | { readonly kind: 'chosen'; readonly busy?: number }
  /** The remembered port was taken: another one, for this run only. */
  | { readonly kind: 'moved'; readonly remembered: number };

export interface RunningNode {
  readonly url: string;
  readonly port: number;
  readonly portOutcome: PortOutcome;
  readonly token: string;
  /**
   * The one-click sign-in address: the dashboard with the token in the URL fragment, which the
   * browser never sends (not to the node, not in a Referer); the dashboard stores it and removes
   * it from the address bar.
   */
  readonly signInUrl: string;
  readonly identity: Identity;
  readonly registry: PursuanceRegistry;
  readonly peer: CwtchPeer;
  readonly sync: SyncService;
  /** Joining by link: invites made here, requests sent from here. */
  readonly joins: JoinService;
  /** Joining by request: the public profile and its inbox, requests sent from here. */
  readonly admission: AdmissionService;
  /** Links between pursuances: offers made here, inboxes read here, tasks sent from here. */
  readonly links: LinkService;
  readonly app: NestExpressApplication;
  close(): Promise<void>;
}

/**
 * A node's event store opened outside a running node (tools and benchmarks that write a store
 * directly): unlocks — or creates — the profile for the identity the store is sealed under.
 * Never while a node runs on the same data dir.
 */
export async function openNodeStore(
  options: Pick<StartNodeOptions, 'dataDir' | 'password' | 'scrypt' | 'displayName'>,
): Promise<{ store: EventStore; identity: Identity; close(): Promise<void> }> {
  await makePrivateDir(options.dataDir);
  const acn = new LoopbackACN();
  try {
    const { peer, profileStore } = await openProfile(options, acn);
    try {
      const store = await EventStore.open(join(options.dataDir, 'node.sqlite'), peer.identity);
      return {
        store,
        identity: peer.identity,
        async close() {
          await store.close();
          await profileStore.close();
          await acn.close();
        },
      };
    } catch (err) {
      await profileStore.close().catch(() => undefined);
      throw err;
    }
  } catch (err) {
    await acn.close().catch(() => undefined);
    throw err;
  }
}

type HttpSide = typeof HttpSideModule;

/**
 * `load`, started by the first call and shared by the rest. Start-up begins some loads early,
 * where they overlap the unlock, and awaits them later: a failure is the awaiter's to report,
 * never an unhandled rejection meanwhile (the unlock may fail first).
 */
function startedOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  return () => {
    if (started === undefined) {
      started = load();
      started.catch(() => undefined);
    }
    return started;
  };
}

const PORT_TAKEN = new Set(['EADDRINUSE', 'EACCES']);

/** Listen on `port`; false when it is taken (or a privileged port), any other failure thrown. */
async function tryListen(nest: NestExpressApplication, port: number): Promise<boolean> {
  try {
    await nest.listen(port, '127.0.0.1');
    return true;
  } catch (err) {
    if (PORT_TAKEN.has((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

async function listenExactly(nest: NestExpressApplication, port: number): Promise<void> {
  if (!(await tryListen(nest, port))) throw new PortInUseError(port);
}

/** Serve on the port StartNodeOptions.port asks for (see StablePort), remembering a new stable one. */
async function listen(nest: NestExpressApplication, port: number | StablePort, dataDir: string): Promise<PortOutcome> {
  if (typeof port === 'number') {
    await listenExactly(nest, port);
    return { kind: 'given' };
  }
  const remembered = await readDashboardPort(dataDir);
  if (remembered !== undefined) {
    if (await tryListen(nest, remembered)) return { kind: 'remembered' };
    await listenExactly(nest, 0);
    return { kind: 'moved', remembered };
  }
  let busy: number | undefined;
  if (port.firstChoice && !(await tryListen(nest, port.firstChoice))) busy = port.firstChoice;
  if (!port.firstChoice || busy !== undefined) await listenExactly(nest, 0);
  await writeDashboardPort(dataDir, (nest.getHttpServer().address() as AddressInfo).port);
  return busy === undefined ? { kind: 'chosen' } : { kind: 'chosen', busy };
}

/**
 * Start a node: make the data dir and everything in it owner-only, unlock (or create, refusing
 * an empty or short password: WeakPasswordError) the Cwtch profile — the member's one
 * identity — open the event store sealed under a key derived from that identity (migrations
 * and the sealing of an older plaintext store run here), replay every pursuance, start group
 * sync, then serve the API on 127.0.0.1 only.
 */
export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  await makePrivateDir(options.dataDir);
  const acn = options.acn ?? new LoopbackACN();
  let peer: CwtchPeer;
  let profileStore: TypeormProfileStore;
  // NestJS is most of the node's module loading (about a second here), and only the HTTP side
  // needs it: it loads while the profile's scrypt runs on the thread pool, not after it.
  const loadHttpSide = startedOnce((): Promise<HttpSide> => import('./http/serve.js'));
  // The rules templates are read and checked meanwhile too (they need no key).
  const readTemplates = startedOnce(() => loadTemplates(options.templatesDir ?? DEFAULT_TEMPLATES_DIR));
  const whileUnlocking = (): void => {
    void loadHttpSide();
    void readTemplates();
  };
  try {
    ({ peer, profileStore } = await openProfile({ ...options, whileUnlocking }, acn));
  } catch (err) {
    if (!options.acn) await acn.close().catch(() => undefined);
    throw err;
  }
  const identity = peer.identity;
  let store: EventStore;
  try {
    store = await EventStore.open(join(options.dataDir, 'node.sqlite'), identity);
  } catch (err) {
    await profileStore.close().catch(() => undefined);
    if (!options.acn) await acn.close().catch(() => undefined);
    throw err;
  }
  let sync: SyncService | undefined;
  let joins: JoinService | undefined;
  let admission: AdmissionService | undefined;
  let links: LinkService | undefined;
  let snapshots: SnapshotTransfer | undefined;
  let voucher: AutoVoucher | undefined;
  let app: NestExpressApplication | undefined;
  let spill: SealedSpill | undefined;
  try {
    // The logs' event encodings out of memory, sealed, in a file that dies with the process.
    const encodings = SealedSpill.open(options.dataDir);
    spill = encodings;
    const registry = new PursuanceRegistry(store, identity, options.clock, () => encodings.shelf());
    if (options.keepFoldAfter !== undefined) registry.keepFoldAfter = options.keepFoldAfter;
    // The persisted read models first: the API answers reads from them while the logs load.
    // Their read waits on SQLite between pages, and the HTTP side is built meanwhile (nothing
    // below reads them before the API listens: the services only subscribe, Nest only wires).
    const opened = registry.open();
    opened.catch(() => undefined);
    sync = new SyncService(peer, registry);
    const profileName = (): string | null => {
      const name = peer.displayName.trim();
      return name !== '' && displayNameProblem(name) === null ? name : null;
    };
    snapshots = new SnapshotTransfer(peer, registry);
    voucher = new AutoVoucher(registry, options.autoVouchEvery ?? AUTO_VOUCH_EVERY);
    joins = new JoinService(peer, registry, sync, store, profileName, undefined, options.snapshotJoins === false ? undefined : snapshots);
    const dropBoxPosts = { acn, ...(options.peerOptions?.relayClient ? { client: options.peerOptions.relayClient } : {}) };
    const follows = new DropBoxFollows(peer);
    admission = new AdmissionService(peer, registry, sync, joins, store, dropBoxPosts, profileName, options.clock, follows);
    links = new LinkService(peer, registry, sync, store, dropBoxPosts, follows, options.clock);
    const token = await loadOrCreateToken(options.dataDir);
    const binding = new HttpBinding(token);
    binding.starting = true;
    const templates = await readTemplates();
    // createHttpApp gives it the controllers' description, generated when first asked for.
    const openapi = { document: (): unknown => ({}) };
    const { createHttpApp } = await loadHttpSide();
    const nest = await createHttpApp(
      { registry, binding, templates, openapi, sync, joins, admission, links, network: acn, profile: peer, store, contacts: peer },
      {
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        dashboardDir: options.dashboardDir === undefined ? DEFAULT_DASHBOARD_DIR : options.dashboardDir,
      },
    );
    app = nest;
    // The event bus is how the sync service hears of new events: its handlers (and the
    // registry's publisher) are subscribed at bootstrap, so the application is initialised
    // before sync starts ingesting what the peer holds.
    await nest.init();
    await opened;
    // Listen before the logs are loaded: reads are served from the persisted read models and
    // everything else answers 503 (NODE_STARTING, PURSUANCE_LOADING) with Retry-After until
    // the replay and the sync start below are done.
    const portOutcome = await listen(nest, options.port ?? 0, options.dataDir);
    const address = nest.getHttpServer().address() as AddressInfo;
    binding.port = address.port;
    const storedEvents = await store.count();
    options.onListening?.(`http://127.0.0.1:${address.port}`, { pursuances: registry.loadingIds().length, events: storedEvents });
    // Reads first: the log's load pauses while a response is going out (at most READS_FIRST_MS a page).
    registry.betweenPages = () => binding.untilQuiet(READS_FIRST_MS);
    await options.beforeLoad?.();
    await registry.load(options.onReplayProgress, options.signal, { resume: true });
    if (options.signal?.aborted) {
      // The rest is closed by the catch below, as for a start that failed.
      registry.stop();
      await registry.idle();
      throw new StartAbortedError();
    }
    await peer.start();
    await sync.start();
    snapshots.start();
    await joins.start();
    await admission.start();
    links.start();
    // What a big load left behind goes back to the system now, not whenever the heap next grows
    // (a small one leaves too little to be worth the pause, 0.1–0.3 s at 100,000 events).
    if (storedEvents >= COLLECT_AFTER_LOADING)
      await collectFully(async () => {
        // Requests that came during the first pass are taken in, and answered before the second.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await binding.untilQuiet(READS_FIRST_MS);
      });
    binding.starting = false;
    const url = `http://127.0.0.1:${address.port}`;
    return {
      url,
      port: address.port,
      portOutcome,
      token,
      signInUrl: `${url}/#token=${token}`,
      identity,
      registry,
      peer,
      sync,
      joins,
      admission,
      links,
      app: nest,
      async close() {
        await nest.close();
        await links?.stop();
        admission?.stop();
        joins?.stop();
        snapshots?.stop();
        voucher?.stop();
        sync?.stop();
        registry.stop();
        await peer.stop();
        await registry.idle();
        // A failure here costs only the state hash shown while the next start-up loads.
        await registry.settle().catch(() => undefined);
        await store.close();
        encodings.close();
        await profileStore.close();
        if (!options.acn) await acn.close();
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await links?.stop();
    admission?.stop();
    joins?.stop();
    snapshots?.stop();
    voucher?.stop();
    sync?.stop();
    await peer.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    spill?.close();
    await profileStore.close().catch(() => undefined);
    if (!options.acn) await acn.close().catch(() => undefined);
    throw err;
  }
}
