import { readFileSync } from 'node:fs';
import { RulesSchema, type Rules } from '@pursuance/pursuance';

/** The activist-cell template's rules, as a founder's author takes them (its $schema key dropped). */
export function activistCellRules(): Rules {
  const json = JSON.parse(readFileSync(new URL('../../../../rules/templates/activist-cell.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  delete json.$schema;
  return RulesSchema.parse(json);
}
