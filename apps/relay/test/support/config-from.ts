import { relayProgram, resolveConfig, type ConfigFile, type RelayConfig } from '../../src/config.js';

/**
 * Parse argv + env with the real commander definition, then merge the config file, as the
 * daemon does. The environment is restored afterwards (variables the call added are removed).
 */
export function configFrom(argv: string[], env: Record<string, string> = {}, file: ConfigFile = {}): RelayConfig {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const program = relayProgram()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    program.parse(argv, { from: 'user' });
    return resolveConfig(program.opts(), (key) => program.getOptionValueSource(key), file);
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}
