import * as fs from 'fs';
import { EnvironmentConfig, ServingConfig } from './environment-config';

/** What `-c serving=<file.json>` may replace: the models to serve. */
export const SERVING_OVERRIDE_KEYS = ['variants', 'sharedEndpoint'] as const;

/**
 * The config with `serving.variants` and/or `serving.sharedEndpoint` replaced by the JSON object in `file`
 * (what `-c serving=<file>` passes), so a deployment pipeline can serve newly approved versions without a
 * code change. The result still goes through `validateEnvironmentConfig`.
 */
export function withServingOverrides(config: EnvironmentConfig, file: string): EnvironmentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`serving: got "${file}"; allowed: a readable JSON file such as {"variants": [...], "sharedEndpoint": {...}}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`serving: "${file}" is not JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`serving: "${file}" must hold an object with ${SERVING_OVERRIDE_KEYS.join(' and/or ')}`);
  }
  const unknown = Object.keys(value).filter((k) => !(SERVING_OVERRIDE_KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new Error(`serving: "${file}" has ${unknown.join(', ')}; allowed keys: ${SERVING_OVERRIDE_KEYS.join(', ')}`);
  const overrides = value as Partial<Pick<ServingConfig, 'variants' | 'sharedEndpoint'>>;
  if (overrides.variants !== undefined && !Array.isArray(overrides.variants)) throw new Error(`serving: "${file}": variants must be an array`);
  return { ...config, serving: { ...config.serving, ...overrides } };
}
