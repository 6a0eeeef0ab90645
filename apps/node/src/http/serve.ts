import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { NodeModule, type NodeRuntime } from '../app.module.js';
import { serveDashboard } from './static.js';

export interface HttpAppOptions {
  readonly logger?: LoggerService | false;
  /** Built dashboard to serve at / (null: none). */
  readonly dashboardDir: string | null;
}

/**
 * The Nest application, created and described but not initialised (start.ts owns init, listen
 * and close). In a module of its own so that start-up can load NestJS — about a second of module
 * loading on this project's machines — while the profile's scrypt runs on the thread pool.
 */
export async function createHttpApp(runtime: NodeRuntime, options: HttpAppOptions): Promise<NestExpressApplication> {
  const nest = await NestFactory.create<NestExpressApplication>(NodeModule.forRoot(runtime), {
    logger: options.logger === undefined ? new Logger() : options.logger,
    abortOnError: false,
    bodyParser: false,
    // close() must not wait for idle keep-alive connections (a browser tab, an SSE client):
    // a stop has a budget, and what was acknowledged is already durable.
    forceCloseConnections: true,
  });
  try {
    // Event imports carry many signed events: allow bodies well past Express's 100 kB default,
    // still bounded (the schemas cap counts and sizes per field).
    nest.useBodyParser('json', { limit: '32mb' });
    // Responses in flight, for start-up's background load to let them out first (HttpBinding.untilQuiet).
    nest.use((request: { path: string }, response: { once(event: 'close', listener: () => void): unknown }, next: () => void) => {
      if (request.path !== '/api/stream') runtime.binding.serving(response);
      next();
    });
    serveDashboard(nest, options.dashboardDir);
    // No enableShutdownHooks(): Nest would re-raise SIGTERM after closing; the embedding
    // program (the CLI) owns signals and calls close(), which runs the destroy hooks.
    let document: unknown;
    runtime.openapi.document = () =>
      (document ??= SwaggerModule.createDocument(
        nest,
        new DocumentBuilder()
          .setTitle('Pursuance node')
          .setDescription('The local node API (127.0.0.1 only, per-node token)')
          .setVersion('0.1.0')
          .addBearerAuth()
          .build(),
      ));
    return nest;
  } catch (err) {
    await nest.close().catch(() => undefined);
    throw err;
  }
}
