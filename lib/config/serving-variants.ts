import * as fs from 'fs';
import { EnvironmentConfig, ServingVariantConfig } from './environment-config';

/**
 * The config with `serving.variants` replaced by the JSON array in `file` (what `-c servingVariants=<file>`
 * passes), so a deployment pipeline can serve newly approved model versions without a code change. The
 * result still goes through `validateEnvironmentConfig`.
 */
export function withServingVariants(config: EnvironmentConfig, file: string): EnvironmentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`servingVariants: got "${file}"; allowed: a readable JSON file holding an array of variants`);
  }
  let variants: unknown;
  try {
    variants = JSON.parse(text);
  } catch (e) {
    throw new Error(`servingVariants: "${file}" is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(variants) || variants.some((v) => typeof v !== 'object' || v === null || Array.isArray(v))) {
    throw new Error(`servingVariants: "${file}" must hold an array of objects {name, modelPackageArn, initialWeight, instanceType, minInstances, maxInstances}`);
  }
  return { ...config, serving: { ...config.serving, variants: variants as ServingVariantConfig[] } };
}
