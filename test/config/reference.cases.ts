import * as fs from 'fs';
import * as path from 'path';
import { configReferenceTable, REFERENCE_END, REFERENCE_START } from '../../lib/config/config-reference';
import { z } from 'zod';
import { ENVIRONMENT_CONFIG_SCHEMA } from '../../lib/config/environment-config';

const README = path.join(__dirname, '..', '..', 'README.md');

/** The README text between the reference markers. */
function readmeTable(text: string): string {
  const start = text.indexOf(REFERENCE_START);
  const end = text.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${REFERENCE_START} ... ${REFERENCE_END} section`);
  return text.slice(start + REFERENCE_START.length, end).trim();
}

describe("the README's config reference is generated from the schema", () => {
  test('the table in README.md is the one the schema gives (FMFT_UPDATE_README=1 npx jest test/config rewrites it)', () => {
    const text = fs.readFileSync(README, 'utf8');
    const generated = configReferenceTable();
    if (process.env.FMFT_UPDATE_README === '1') {
      const start = text.indexOf(REFERENCE_START) + REFERENCE_START.length;
      fs.writeFileSync(README, `${text.slice(0, start)}\n${generated}\n${text.slice(text.indexOf(REFERENCE_END))}`);
    }
    expect(readmeTable(fs.readFileSync(README, 'utf8'))).toBe(generated);
  });

  test('every top-level key and every key of each section has a row', () => {
    const table = configReferenceTable();
    const shape = ENVIRONMENT_CONFIG_SCHEMA.unwrap().shape;
    for (const [key, schema] of Object.entries(shape)) {
      // Sections may be readonly, optional (e.g. `delivery`) or both: their keys have rows all the same.
      let section: z.ZodType = schema as z.ZodType;
      while (section instanceof z.ZodReadonly || section instanceof z.ZodOptional) section = section.unwrap() as z.ZodType;
      const keys = section instanceof z.ZodObject ? Object.keys(section.shape).map((sub) => `${key}.${sub}`) : [key];
      for (const k of keys) expect(table).toMatch(new RegExp(`^\\| \`${k.replace('.', '\\.')}\``, 'm'));
    }
  });
});
