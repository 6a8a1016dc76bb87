/**
 * Extends the published pipeline definition JSON schema with fields the API accepts but the schema lags on
 * (`overlay.json`, each addition citing its API reference). Additions only: a new definition, a new
 * optional property, or a new alternative beside an existing schema. Validation stays on.
 */
import * as fs from 'fs';
import * as path from 'path';
import overlayJson from './overlay.json';

type Json = Record<string, any>;

export interface OverlayDefinition {
  readonly name: string;
  readonly $comment: string;
  readonly schema: Json;
}

export interface OverlayProperty {
  /** JSON pointer to an object schema in the base schema. */
  readonly at: string;
  readonly name: string;
  readonly $comment: string;
  readonly schema: Json;
}

export interface OverlayAlternative {
  /** JSON pointer to the schema that gains an alternative. */
  readonly at: string;
  readonly $comment: string;
  readonly schema: Json;
}

export interface SchemaOverlay {
  readonly definitions: readonly OverlayDefinition[];
  readonly properties: readonly OverlayProperty[];
  readonly alternatives: readonly OverlayAlternative[];
}

/** AWS's published schema, vendored beside this file (source, commit and date in README.md there). */
export const PUBLISHED_SCHEMA_PATH = path.join(__dirname, 'pipeline-definition.schema.json');

/** The published schema as AWS wrote it. */
export function loadPublishedSchema(): Json {
  return JSON.parse(fs.readFileSync(PUBLISHED_SCHEMA_PATH, 'utf8'));
}

/** The project's overlay. */
export const PIPELINE_SCHEMA_OVERLAY: SchemaOverlay = overlayJson;

/** The object a JSON pointer (`/a/b`) names inside `root`, or undefined. */
export function resolvePointer(root: Json, pointer: string): Json | undefined {
  let node: any = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * A deep copy of `schema` with the overlay's additions. Throws when an addition would replace something
 * (a definition or property that exists) or its target does not exist, so the overlay can never loosen or
 * overwrite what the published schema says.
 */
export function applySchemaOverlay(schema: Json, overlay: SchemaOverlay = PIPELINE_SCHEMA_OVERLAY): Json {
  const copy: Json = structuredClone(schema);
  const problems: string[] = [];
  for (const d of overlay.definitions) {
    if (d.name in copy.definitions) problems.push(`definition '${d.name}' already exists`);
    else copy.definitions[d.name] = { $comment: d.$comment, ...structuredClone(d.schema) };
  }
  for (const p of overlay.properties) {
    const target = resolvePointer(copy, p.at);
    if (!target || typeof target.properties !== 'object') problems.push(`${p.at} is not an object schema with properties`);
    else if (p.name in target.properties) problems.push(`${p.at} already has property '${p.name}'`);
    else target.properties[p.name] = { $comment: p.$comment, ...structuredClone(p.schema) };
  }
  for (const a of overlay.alternatives) {
    const target = resolvePointer(copy, a.at);
    const added = { $comment: a.$comment, ...structuredClone(a.schema) };
    if (!target) {
      problems.push(`${a.at} does not exist`);
    } else if (Array.isArray(target.oneOf)) {
      target.oneOf.push(added);
    } else if (Array.isArray(target.anyOf)) {
      target.anyOf.push(added);
    } else {
      // A plain schema becomes the first branch of an anyOf, kept exactly as published.
      const original = { ...target };
      for (const key of Object.keys(target)) delete target[key];
      target.anyOf = [original, added];
    }
  }
  if (problems.length) throw new Error(`Invalid schema overlay:\n- ${problems.join('\n- ')}`);
  return copy;
}
