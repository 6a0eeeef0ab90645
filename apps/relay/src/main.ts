#!/usr/bin/env node
import 'reflect-metadata';
import { CommanderError } from 'commander';
import { readConfigFile, relayProgram, resolveConfig } from './config.js';
import { DaemonError, ExitCode } from './errors.js';
import { code, createLogger } from './logger.js';
import { readRelayPassword, readTorControlPassword } from './password.js';
import { RelayDaemon } from './relay-daemon.js';

/**
 * `pursuance-relay`: run a relay until SIGINT/SIGTERM. stdout carries the few lines an operator
 * (or a test) needs — the onions, the key bundle, the metrics URL, "ready"; stderr carries the
 * JSON logs.
 */
const program = relayProgram().exitOverride().showHelpAfterError();
const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
let signalled: (signal: NodeJS.Signals) => void = () => undefined;
const stopRequested = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
// A signal during start-up (a managed tor still bootstrapping) aborts the start.
const starting = new AbortController();
/** How long a graceful stop may take: whatever the network does, a stopped relay exits. */
const STOP_BUDGET_MS = 4_000;
let signalCount = 0;
for (const signal of signals) {
  process.on(signal, () => {
    // A second signal means "now": skip the graceful path.
    if (++signalCount > 1) process.exit(ExitCode.failure);
    starting.abort();
    signalled(signal);
    setTimeout(() => {
      process.stderr.write(`pursuance-relay: stopping took over ${STOP_BUDGET_MS / 1000} s; exiting\n`);
      process.exit(ExitCode.failure);
    }, STOP_BUDGET_MS).unref();
  });
}

program.action(async (opts: Record<string, unknown>) => {
  const file = typeof opts.config === 'string' ? await readConfigFile(opts.config) : {};
  const config = resolveConfig(opts, (key) => program.getOptionValueSource(key), file);
  const log = createLogger(config.logLevel);
  const password = await readRelayPassword(config.passwordFile);
  const torControlPassword = await readTorControlPassword(config.torControlPasswordFile);
  const daemon = await RelayDaemon.start({
    config,
    password,
    log,
    signal: starting.signal,
    ...(torControlPassword !== undefined ? { torControlPassword } : {}),
  });
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  out(`board ${daemon.relay.bundle.boardOnion}`);
  out(`token-service ${daemon.relay.bundle.tokenOnion}`);
  out(`key-bundle ${daemon.exportedBundle}`);
  if (daemon.metricsPort !== undefined) out(`metrics http://127.0.0.1:${daemon.metricsPort}/metrics`);
  out('ready');
  const signal = await stopRequested;
  log.info('relay.stopping', { signal: code(signal) });
  await daemon.stop();
});

try {
  await program.parseAsync(process.argv);
  process.exitCode = ExitCode.ok;
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else if (err instanceof DaemonError) {
    process.stderr.write(`pursuance-relay: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`pursuance-relay: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = ExitCode.failure;
  }
}
// Everything was closed in order above; a stray handle (a socket's linger timer, a failed
// start's half-open resources) must not keep a finished daemon alive. stdout/stderr are
// synchronous for files and pipes on Linux, so nothing written is lost.
process.exit();
