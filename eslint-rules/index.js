// @ts-check
import { noDynamicRecordLookup } from './no-dynamic-record-lookup.js';

/** The repository's own ESLint rules, registered as the `local` plugin in eslint.config.js. */
const plugin = {
  meta: { name: 'local' },
  rules: { 'no-dynamic-record-lookup': noDynamicRecordLookup },
};

export default plugin;
