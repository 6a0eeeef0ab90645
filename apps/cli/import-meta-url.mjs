// Injected by apps/cli/bundle.mjs into the CommonJS bundle, where import.meta does not exist: the
// packages that ask for import.meta.url (Nest's package loader, swagger-ui's asset path, libsodium)
// get the bundle's URL, from which node_modules resolves as it did from their own files.
import { pathToFileURL } from 'node:url';

// eslint-disable-next-line no-undef -- the CommonJS wrapper's own
export const importMetaUrl = pathToFileURL(__filename).href;
