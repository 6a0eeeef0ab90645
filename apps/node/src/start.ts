import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Identity, ScryptParams } from '@pursuance/crypto';
import { CwtchPeer, ProfileNotFoundError, WrongPasswordError, type CwtchPeerOptions } from '@pursuance/cwtch';
import { TypeormProfileStore } from '@pursuance/cwtch-store-sqlite';
import { LoopbackACN, type ACN } from '@pursuance/tapir';
import { NodeModule } from './app.module.js';
import { loadOrCreateToken } from './config.js';
import { PursuanceRegistry, type ReplayProgress } from './domain/registry.js';
import { loadTemplates } from './domain/templates.js';
import { HttpBinding } from './http/binding.js';
import { DEFAULT_DASHBOARD_DIR, serveDashboard } from './http/static.js';
import { checkNewPassword } from '@pursuance/password';
import { ProfilePasswordError } from './identity-store.js';
import { EventStore } from './store/event-store.js';
import { makePrivateDir } from './store/private-dir.js';
import { SyncService } from './sync/sync.service.js';

export const DEFAULT_TEMPLATES_DIR = fileURLToPath(new URL('../../../rules/templates', import.meta.url));

export interface StartNodeOptions {
  readonly dataDir: string;
  readonly password: string;
  /** 0 = any free port. The node always binds 127.0.0.1. */
  readonly port?: number;
  readonly templatesDir?: string;
  readonly scrypt?: ScryptParams;
  readonly logger?: LoggerService | false;
  readonly onReplayProgress?: (p: ReplayProgress) => void;
  readonly clock?: () => number;
  /** Built dashboard to serve at / (default: apps/dashboard/dist, if built; null: none). */
  readonly dashboardDir?: string | null;
  /** The network (default: LoopbackACN on the shared registry). */
  readonly acn?: ACN;
  /** Display name for a new profile. */
  readonly displayName?: string;
  /** Cwtch peer timings (tests shorten retries). */
  readonly peerOptions?: Partial<Omit<CwtchPeerOptions, 'store' | 'acn' | 'password'>>;
}

export interface RunningNode {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly identity: Identity;
  readonly registry: PursuanceRegistry;
  readonly peer: CwtchPeer;
  readonly sync: SyncService;
  readonly app: NestExpressApplication;
  close(): Promise<void>;
}

/** Open the node's Cwtch profile (its identity, contacts, groups), creating it on first start. */
async function openPeer(
  options: Pick<StartNodeOptions, 'dataDir' | 'password' | 'scrypt' | 'displayName' | 'peerOptions'>,
  acn: ACN,
): Promise<{ peer: CwtchPeer; profileStore: TypeormProfileStore }> {
  const profileStore = await TypeormProfileStore.open({ path: join(options.dataDir, 'profile.sqlite') });
  const common = { store: profileStore, acn, password: options.password, ...options.peerOptions };
  try {
    try {
      return { peer: await CwtchPeer.open(common), profileStore };
    } catch (err) {
      if (!(err instanceof ProfileNotFoundError)) throw err;
      // A new profile: its password is the only thing between a stolen disk and everything.
      checkNewPassword(options.password);
      const peer = await CwtchPeer.create({ ...common, displayName: options.displayName ?? '', ...(options.scrypt ? { scryptParams: options.scrypt } : {}) });
      return { peer, profileStore };
    }
  } catch (err) {
    await profileStore.close().catch(() => undefined);
    if (err instanceof WrongPasswordError) throw new ProfilePasswordError();
    throw err;
  }
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
    const { peer, profileStore } = await openPeer(options, acn);
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
  try {
    ({ peer, profileStore } = await openPeer(options, acn));
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
  let app: NestExpressApplication | undefined;
  try {
    const registry = new PursuanceRegistry(store, identity, options.clock);
    await registry.load(options.onReplayProgress);
    sync = new SyncService(peer, registry);
    const token = await loadOrCreateToken(options.dataDir);
    const binding = new HttpBinding(token);
    const templates = await loadTemplates(options.templatesDir ?? DEFAULT_TEMPLATES_DIR);
    const openapi = { document: {} as unknown };
    const nest = await NestFactory.create<NestExpressApplication>(NodeModule.forRoot({ registry, binding, templates, openapi, sync, network: acn }), {
      logger: options.logger === undefined ? new Logger() : options.logger,
      abortOnError: false,
      bodyParser: false,
      // close() must not wait for idle keep-alive connections (a browser tab, an SSE client):
      // a stop has a budget, and what was acknowledged is already durable.
      forceCloseConnections: true,
    });
    app = nest;
    // Event imports carry many signed events: allow bodies well past Express's 100 kB default,
    // still bounded (the schemas cap counts and sizes per field).
    nest.useBodyParser('json', { limit: '32mb' });
    serveDashboard(nest, options.dashboardDir === undefined ? DEFAULT_DASHBOARD_DIR : options.dashboardDir);
    // No enableShutdownHooks(): Nest would re-raise SIGTERM after closing; the embedding
    // program (the CLI) owns signals and calls close(), which runs the destroy hooks.
    openapi.document = SwaggerModule.createDocument(
      nest,
      new DocumentBuilder()
        .setTitle('Pursuance node')
        .setDescription('The local node API (127.0.0.1 only, per-node token)')
        .setVersion('0.1.0')
        .addBearerAuth()
        .build(),
    );
    // The event bus is how the sync service hears of new events: its handlers (and the
    // registry's publisher) are subscribed at bootstrap, so the application is initialised
    // before sync starts ingesting what the peer holds.
    await nest.init();
    await peer.start();
    await sync.start();
    await nest.listen(options.port ?? 0, '127.0.0.1');
    const server = nest.getHttpServer();
    const address = server.address() as AddressInfo;
    binding.port = address.port;
    return {
      url: `http://127.0.0.1:${address.port}`,
      port: address.port,
      token,
      identity,
      registry,
      peer,
      sync,
      app: nest,
      async close() {
        await nest.close();
        sync?.stop();
        await peer.stop();
        await registry.idle();
        await store.close();
        await profileStore.close();
        if (!options.acn) await acn.close();
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    sync?.stop();
    await peer.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    await profileStore.close().catch(() => undefined);
    if (!options.acn) await acn.close().catch(() => undefined);
    throw err;
  }
}
