import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { NodeModule, type NodeRuntime } from '../app.module.js';
import { isApiPath, serveDashboard } from './static.js';
import { LIVE_STREAM_PATH } from './stream.controller.js';

function apiNotStored(request: { path: string }, response: { setHeader(name: string, value: string): unknown }, next: () => void): void {
  if (isApiPath(request.path)) response.setHeader('Cache-Control', 'no-store');
  next();
}

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
  // The adapter is given, not found: NestFactory would otherwise load Express on demand, after
  // the unlock, where start-up waits for it; imported here it loads while scrypt runs.
  const nest = await NestFactory.create<NestExpressApplication>(NodeModule.forRoot(runtime), new ExpressAdapter(), {
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
    // API answers hold what the profile password protects at rest (decrypted tasks, members):
    // the browser must not keep them in its disk cache. Nothing revalidates them either, so no
    // ETag (a hash of every body: 4 MB for a big board's task list). The dashboard's files keep
    // theirs (serve-static's own).
    nest.set('etag', false);
    nest.use(apiNotStored);
    // Responses in flight, for start-up's background load to let them out first (HttpBinding.untilQuiet).
    nest.use((request: { path: string }, response: { once(event: 'close', listener: () => void): unknown }, next: () => void) => {
      if (request.path !== LIVE_STREAM_PATH) runtime.binding.serving(response);
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
