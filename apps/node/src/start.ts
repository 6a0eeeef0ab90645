import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Identity, ScryptParams } from '@pursuance/crypto';
import { NodeModule } from './app.module.js';
import { loadOrCreateToken } from './config.js';
import { PursuanceRegistry, type ReplayProgress } from './domain/registry.js';
import { loadTemplates } from './domain/templates.js';
import { HttpBinding } from './http/binding.js';
import { openOrCreateIdentity } from './identity-store.js';
import { EventStore } from './store/event-store.js';

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
}

export interface RunningNode {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly identity: Identity;
  readonly registry: PursuanceRegistry;
  readonly app: INestApplication;
  close(): Promise<void>;
}

/**
 * Start a node: unlock (or create) the profile identity, open the event store (migrations run
 * here), replay every pursuance, then serve the API on 127.0.0.1 only.
 */
export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const identity = await openOrCreateIdentity(options.dataDir, options.password, options.scrypt);
  const store = await EventStore.open(join(options.dataDir, 'node.sqlite'));
  try {
    const registry = new PursuanceRegistry(store, identity, options.clock);
    await registry.load(options.onReplayProgress);
    const token = await loadOrCreateToken(options.dataDir);
    const binding = new HttpBinding(token);
    const templates = await loadTemplates(options.templatesDir ?? DEFAULT_TEMPLATES_DIR);
    const openapi = { document: {} as unknown };
    const app = await NestFactory.create(NodeModule.forRoot({ registry, binding, templates, openapi }), {
      logger: options.logger === undefined ? new Logger() : options.logger,
      abortOnError: false,
    });
    // No enableShutdownHooks(): Nest would re-raise SIGTERM after closing; the embedding
    // program (the CLI) owns signals and calls close(), which runs the destroy hooks.
    openapi.document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder().setTitle('Pursuance node').setDescription('The local node API (127.0.0.1 only, per-node token)').setVersion('0.1.0').addBearerAuth().build(),
    );
    await app.listen(options.port ?? 0, '127.0.0.1');
    const server = app.getHttpServer() as Server;
    const address = server.address() as AddressInfo;
    binding.port = address.port;
    return {
      url: `http://127.0.0.1:${address.port}`,
      port: address.port,
      token,
      identity,
      registry,
      app,
      async close() {
        await app.close();
        await registry.idle();
        await store.close();
      },
    };
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
}
