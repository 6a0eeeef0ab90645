import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuleTester, type Rule } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, it } from 'vitest';
import { noDynamicRecordLookup } from './no-dynamic-record-lookup.js';

// ESLint's RuleTester makes one vitest test per case.
RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
const filename = join(fixtures, 'file.ts');

const tester = new RuleTester({
  languageOptions: {
    parser: tseslint.parser,
    parserOptions: { project: './tsconfig.json', tsconfigRootDir: fixtures },
  },
});

const rule = noDynamicRecordLookup as unknown as Rule.RuleModule;
const prelude = `
declare const record: Record<string, number>;
declare const key: string;
declare const other: string;
`;
const valid = (code: string) => ({ code: prelude + code, filename });
const lookup = (code: string, count = 1) => ({ code: prelude + code, filename, errors: Array.from({ length: count }, () => ({ messageId: 'lookup' })) });

tester.run('no-dynamic-record-lookup', rule, {
  valid: [
    // Keys the compiler bounds: literal unions, numbers, symbols.
    valid(`declare const bounded: Record<'a' | 'b', number>; declare const k: 'a' | 'b'; bounded[k];`),
    valid(`record['literal'];`),
    valid(`declare const byNumber: Record<number, string>; declare const n: number; byNumber[n];`),
    valid(`declare const s: symbol; declare const bySymbol: Record<symbol, string>; bySymbol[s];`),
    valid(`function f<K extends 'x' | 'y'>(r: Record<'x' | 'y', number>, k: K) { return r[k]; }`),
    // Containers that are not plain objects.
    valid(`declare const list: string[]; declare const i: number; list[i];`),
    valid(`declare const bytes: Uint8Array; bytes[key as never]; bytes[key];`),
    valid(`declare const tuple: [string, number]; tuple[key];`),
    valid(`declare const m: Map<string, number>; m[key];`),
    valid(`declare const text: string; text[key];`),
    // Guarded by an own-property check on the same object and key.
    valid(`Object.hasOwn(record, key) && record[key];`),
    valid(`const v = Object.hasOwn(record, key) ? record[key] : undefined;`),
    valid(`if (Object.hasOwn(record, key)) { record[key] = 1; }`),
    valid(`if (Object.hasOwn(record, key) && key.length > 2) { record[key] += 1; }`),
    valid(`function g() { if (!Object.hasOwn(record, key)) return; return record[key]; }`),
    valid(`function g() { if (key === '' || !Object.hasOwn(record, key)) { throw new Error('no'); } delete record[key]; }`),
    valid(`!Object.hasOwn(record, key) || record[key] === 1;`),
    valid(`Object.prototype.hasOwnProperty.call(record, key) && record[key];`),
    valid(`const ownValue = (o: Record<string, number>, k: string) => (Object.hasOwn(o, k) ? o[k] : undefined);`),
    // \`in\` with a bounded key or on a private name.
    valid(`declare const k: 'a' | 'b'; k in record;`),
    valid(`class C { #x = 1; static has(o: object) { return #x in o; } }`),
  ],
  invalid: [
    lookup(`record[key];`),
    lookup(`record[key] = 1;`),
    lookup(`delete record[key];`),
    lookup(`record?.[key];`),
    lookup(`const { length } = [record[key]];`),
    lookup(`declare const dict: { [name: string]: boolean }; dict[key];`),
    lookup('declare const templated: `role:${string}`; record[templated];'),
    lookup(`declare const branded: string & { readonly __brand: 'onion' }; record[branded];`),
    lookup(`declare const widened: 'a' | (string & {}); record[widened];`),
    lookup(`function f<K extends string>(k: K) { return record[k]; }`),
    lookup(`declare const loose: any; loose[key];`),
    lookup(`declare const either: Record<string, number> | number[]; either[key];`),
    lookup(`declare const nested: Record<string, Record<string, number>>; nested[key]?.[other];`, 2),
    // Guards that do not cover this access.
    lookup(`Object.hasOwn(record, other) && record[key];`),
    lookup(`declare const elsewhere: Record<string, number>; Object.hasOwn(elsewhere, key) && record[key];`),
    lookup(`Object.hasOwn(record, key) || record[key];`),
    lookup(`(record[key] === 1 && Object.hasOwn(record, key)) && key.length > 0;`),
    lookup(`const v = Object.hasOwn(record, key) ? 0 : record[key];`),
    lookup(`if (Object.hasOwn(record, key)) {} else { record[key] = 1; }`),
    lookup(`function g() { let missing = false; if (!Object.hasOwn(record, key)) missing = true; return missing ? 0 : record[key]; }`),
    lookup(`function g() { record[key]; if (!Object.hasOwn(record, key)) return; }`),
    { code: `${prelude} key in record;`, filename, errors: [{ messageId: 'inOperator' }] },
    { code: `${prelude} if (other in record) record[other] = 2;`, filename, errors: [{ messageId: 'inOperator' }, { messageId: 'lookup' }] },
  ],
});
