/** Resolves on the first SIGINT or SIGTERM, so commands can shut down gracefully. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * Run a graceful stop, but exit the process (code 1, with one line on stderr) if it has not
 * finished within `budgetMs` or a second signal arrives: a stop must end whatever the network.
 */
export async function stopWithin(budgetMs: number, stop: () => Promise<void>): Promise<void> {
  const giveUp = (why: string): void => {
    release();
    process.stderr.write(`pursuance: ${why}; exiting without waiting\n`);
    process.exit(1);
  };
  const timer = setTimeout(() => giveUp(`stopping took over ${budgetMs / 1000} s`), budgetMs);
  const again = (): void => giveUp('second signal');
  const release = (): void => {
    clearTimeout(timer);
    process.off('SIGINT', again);
    process.off('SIGTERM', again);
  };
  process.once('SIGINT', again);
  process.once('SIGTERM', again);
  try {
    await stop();
  } finally {
    release();
  }
}
