// `node mutation/survivors.mjs <module>`: the score and every surviving (or uncovered) mutant of
// the last run of a module, one line each: file:line:col mutator status `original` → `replacement`.
import { readFileSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const name = process.argv[2];
if (name === undefined) {
  process.stderr.write('usage: node mutation/survivors.mjs <module>\n');
  process.exit(2);
}
const report = JSON.parse(readFileSync(fileURLToPath(new URL(`./reports/${name}/mutation.json`, import.meta.url)), 'utf8'));
const counts = {};
const lines = [];
for (const [file, { source, mutants }] of Object.entries(report.files)) {
  const sourceLines = source.split('\n');
  for (const m of mutants) {
    counts[m.status] = (counts[m.status] ?? 0) + 1;
    if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
    const { start, end } = m.location;
    const original =
      start.line === end.line ? sourceLines[start.line - 1].slice(start.column - 1, end.column - 1) : `${sourceLines[start.line - 1].slice(start.column - 1)}…`;
    const clip = (s) => (s.length > 90 ? `${s.slice(0, 87)}...` : s).replace(/\s+/g, ' ');
    lines.push(`${file}:${start.line}:${start.column} ${m.mutatorName} ${m.status} \`${clip(original)}\` → \`${clip(m.replacement ?? '')}\``);
  }
}
const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
const valid = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
process.stdout.write(`${name}: score ${((100 * detected) / valid).toFixed(2)}% (${detected}/${valid} detected) ${JSON.stringify(counts)}\n`);
for (const l of lines.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) process.stdout.write(`${l}\n`);
