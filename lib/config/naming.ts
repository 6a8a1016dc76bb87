import { EnvironmentConfig } from './environment-config';

/**
 * Names that must not collide between environments in one account all start with `<prefix>-<env>`; this is
 * the one place that builds them.
 */
export function environmentPrefix(config: EnvironmentConfig): string {
  return `${config.storage.bucketNamePrefix}-${config.name}`;
}

/** `<prefix>-<env>-<purpose>`, e.g. `fmft-dev-monthly-cost`. */
export function resourceName(config: EnvironmentConfig, purpose: string): string {
  return `${environmentPrefix(config)}-${purpose}`;
}

/** KMS alias name without `alias/`: `<prefix>/<env>/<purpose>`. */
export function keyAlias(config: EnvironmentConfig, purpose: string): string {
  return `${config.storage.bucketNamePrefix}/${config.name}/${purpose}`;
}

/** The monitoring stack's rule that sends drift alarms to the retraining trigger (the trigger's queue admits it by name). */
export function driftRetrainingRuleName(config: EnvironmentConfig): string {
  return resourceName(config, 'drift-retraining');
}
