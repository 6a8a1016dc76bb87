import { z } from 'zod';
import { ENVIRONMENT_CONFIG_SCHEMA } from './environment-config';

/**
 * The README's config reference, generated from the schema's `.describe()` texts, so the documentation
 * cannot drift from the keys the app reads: test/config/reference.cases.ts fails when the README's table
 * differs from this one.
 */

/** Markers around the generated table in README.md. */
export const REFERENCE_START = '<!-- config-reference:start (generated from lib/config/environment-config.ts; test/config/reference.cases.ts) -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

type Schema = z.core.$ZodType;

/** The schema under `optional`/`readonly` wrappers, and whether one of them made it optional. */
function unwrap(schema: Schema): { inner: Schema; optional: boolean } {
  let inner = schema;
  let optional = false;
  for (;;) {
    if (inner instanceof z.ZodOptional) {
      optional = true;
      inner = inner.unwrap();
    } else if (inner instanceof z.ZodReadonly) {
      inner = inner.unwrap();
    } else {
      return { inner, optional };
    }
  }
}

/** The first description on the way in through the wrappers. */
function description(schema: Schema): string {
  let current: Schema = schema;
  for (;;) {
    const text = (current as z.ZodType).description;
    if (text) return text;
    if (current instanceof z.ZodOptional || current instanceof z.ZodReadonly) current = current.unwrap();
    else throw new Error(`config schema: a key has no .describe() text (${current._zod.def.type})`);
  }
}

function shapeOf(schema: Schema): Record<string, Schema> | undefined {
  const { inner } = unwrap(schema);
  if (inner instanceof z.ZodObject) return inner.shape as Record<string, Schema>;
  if (inner instanceof z.ZodArray) {
    const element = unwrap(inner.element as Schema).inner;
    if (element instanceof z.ZodObject) return element.shape as Record<string, Schema>;
  }
  return undefined;
}

/** One row: the key, then its description, `optional` where it may be omitted, and its own keys. */
function row(key: string, schema: Schema): string {
  const { optional } = unwrap(schema);
  const keys = shapeOf(schema);
  const parts = [description(schema)];
  if (keys) parts.push(`keys: ${Object.keys(keys).map((k) => `\`${k}\``).join(', ')}`);
  return `| \`${key}\`${optional ? ' (optional)' : ''} | ${parts.join('; ')} |`;
}

/** The Markdown table: a row per top-level key, and per second-level key of every section. */
export function configReferenceTable(): string {
  const rows = ['| key | meaning |', '|---|---|'];
  for (const [key, schema] of Object.entries(ENVIRONMENT_CONFIG_SCHEMA.unwrap().shape as Record<string, Schema>)) {
    const { inner } = unwrap(schema);
    if (inner instanceof z.ZodObject) {
      for (const [sub, subSchema] of Object.entries(inner.shape as Record<string, Schema>)) rows.push(row(`${key}.${sub}`, subSchema));
    } else {
      rows.push(row(key, schema));
    }
  }
  return rows.join('\n');
}
