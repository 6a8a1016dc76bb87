import { EnvironmentConfig, REPLICA_PURPOSE_PREFIX } from './environment-config';

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

/** `<prefix>-<env>-dr-<purpose>-<account>-<drRegion>`: the replica of a bucket in the DR region. */
export function replicaBucketName(config: EnvironmentConfig, purpose: string, account: string): string {
  return `${resourceName(config, `${REPLICA_PURPOSE_PREFIX}${purpose}`)}-${account}-${config.drRegion}`;
}

/** `<prefix>-<env>-<purpose>-<account>-<region>`: a bucket of the primary region (globally unique by account and region). */
export function bucketName(config: EnvironmentConfig, purpose: string, account: string, region: string): string {
  return `${resourceName(config, purpose)}-${account}-${region}`;
}

/**
 * CloudWatch dashboards are global to the account, not regional ("All dashboards in your account are global",
 * AWS::CloudWatch::Dashboard in the CloudFormation reference): a name ends with its region, so the failover
 * deployment's dashboards (-c failover=true) do not replace the primary region's.
 */
export function dashboardName(name: string, region: string): string {
  return `${name}-${region}`;
}
