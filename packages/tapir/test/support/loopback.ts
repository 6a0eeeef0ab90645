import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, LoopbackACN, TapirService, type Application, type Connection, type TapirError } from '../../src/index.js';

/** Echoes every payload back until the connection closes. */
export const echoApp = (): Application => ({
  name: 'echo',
  async run(conn: Connection) {
    for (;;) await conn.send(await conn.expect());
  },
});

export interface LoopbackWorld {
  readonly registryDir: string;
  acn(): LoopbackACN;
  /** An auth→echo server on a fresh identity; its connection errors are collected. */
  echoServer(
    options?: ConstructorParameters<typeof TapirService>[2],
    chain?: () => Application,
  ): Promise<{
    service: TapirService;
    errors: TapirError[];
    nextError(): Promise<TapirError>;
  }>;
  client(identity?: Identity): TapirService;
  cleanup(): Promise<void>;
}

/** A private loopback network per test: its own registry dir, torn down afterwards. */
export async function loopbackWorld(): Promise<LoopbackWorld> {
  const registryDir = await mkdtemp(join(tmpdir(), 'tapir-test-'));
  const acns: LoopbackACN[] = [];
  const services: TapirService[] = [];
  const acn = (): LoopbackACN => {
    const a = new LoopbackACN({ registryDir });
    acns.push(a);
    return a;
  };
  return {
    registryDir,
    acn,
    async echoServer(options, chain) {
      const service = new TapirService(acn(), Identity.generate(), options);
      services.push(service);
      const errors: TapirError[] = [];
      const waiting: ((e: TapirError) => void)[] = [];
      service.on('connectionError', (_conn, error) => {
        errors.push(error);
        waiting.shift()?.(error);
      });
      await service.listen(chain ?? (() => new ApplicationChain([new AuthApp()], echoApp())));
      return {
        service,
        errors,
        nextError: () => new Promise<TapirError>((resolve) => waiting.push(resolve)),
      };
    },
    client(identity = Identity.generate()) {
      const service = new TapirService(acn(), identity);
      services.push(service);
      return service;
    },
    async cleanup() {
      await Promise.allSettled(services.map((s) => s.close()));
      await Promise.allSettled(acns.map((a) => a.close()));
      await rm(registryDir, { recursive: true, force: true });
    },
  };
}
