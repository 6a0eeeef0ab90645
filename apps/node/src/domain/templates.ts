import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { RulesSchema, type Rules } from '@pursuance/pursuance';

export interface RulesTemplate {
  readonly id: string;
  readonly rules: Rules;
}

/** The rules templates shipped in rules/templates, validated (a broken template fails start-up). */
export async function loadTemplates(dir: string): Promise<RulesTemplate[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const out: RulesTemplate[] = [];
  for (const file of files) {
    const json = JSON.parse(await readFile(join(dir, file), 'utf8')) as Record<string, unknown>;
    delete json.$schema;
    out.push({ id: basename(file, '.json'), rules: RulesSchema.parse(json) });
  }
  return out;
}
