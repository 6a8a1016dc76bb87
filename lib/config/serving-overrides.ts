import * as fs from 'fs';
import type { EnvironmentConfig } from './environment-config';
import { ConfigValidationError } from './validate';

/** What `-c serving=<file.json>` may replace: the models to serve. */
export const SERVING_OVERRIDE_KEYS = ['variants', 'sharedEndpoint', 'bedrockModels'] as const;

/**
 * The config with `serving.variants` and/or `serving.sharedEndpoint` replaced by the JSON object in `file`
 * (what `-c serving=<file>` passes), so a deployment pipeline can serve newly approved versions without a
 * code change. Only the file's shape is checked here: the result goes through `validateEnvironmentConfig`,
 * whose schema is strict all the way down (unknown keys, nulls and wrong types are errors with their
 * `serving.` path). The result is not typed as valid yet, hence `unknown`.
 */
export function withServingOverrides(config: EnvironmentConfig, file: string): unknown {
  const fail = (problem: string): never => {
    throw new ConfigValidationError(config.name, [problem], `serving from ${file}`);
  };
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    fail(`serving: got ${JSON.stringify(file)}; allowed: a readable JSON file such as {"variants": [...], "sharedEndpoint": {...}}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    fail(`serving: ${JSON.stringify(file)} is not JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`serving: got ${JSON.stringify(value)}; allowed: an object with ${SERVING_OVERRIDE_KEYS.join(' and/or ')}`);
  }
  const overrides = value as Record<string, unknown>;
  const unknown = Object.keys(overrides).filter((k) => !(SERVING_OVERRIDE_KEYS as readonly string[]).includes(k));
  if (unknown.length) {
    throw new ConfigValidationError(
      config.name,
      unknown.map((k) => `serving.${k}: unknown key; allowed: ${SERVING_OVERRIDE_KEYS.join(', ')}`),
      `serving from ${file}`,
    );
  }
  return { ...config, serving: { ...config.serving, ...overrides } };
}
