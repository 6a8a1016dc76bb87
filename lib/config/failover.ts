import { EnvironmentConfig } from './environment-config';
import { ConfigValidationError, validateEnvironmentConfig } from './validate';

/**
 * The environment as it runs in its DR region once the primary region is lost (`-c failover=true`): the same
 * stacks, deployed to `drRegion` over the subnets of `disasterRecovery.failover.availabilityZones`, on the
 * replicas the DR stack holds (the storage stack adopts them instead of making buckets). The lost region
 * becomes `drRegion`, without replication into it (it is down) and without backups until people decide
 * again. Every rule of the config is checked again for the new region (zones, serving images, Bedrock
 * models), so a region that cannot run the environment fails at synth, not during the outage.
 */
export function failoverConfig(config: EnvironmentConfig): EnvironmentConfig {
  const failover = config.disasterRecovery.failover;
  if (!config.disasterRecovery.replication || !failover) {
    throw new ConfigValidationError(config.name, [
      `disasterRecovery.failover: got ${JSON.stringify(failover ?? null)} with replication ${config.disasterRecovery.replication}; ` +
        'allowed: replication true and failover.availabilityZones set (zones of drRegion) for -c failover=true',
    ]);
  }
  const derived: EnvironmentConfig = {
    ...config,
    primaryRegion: config.drRegion,
    drRegion: config.primaryRegion,
    network: { ...config.network, availabilityZones: [...failover.availabilityZones] },
    disasterRecovery: { replication: false },
  };
  return validateEnvironmentConfig(derived, `failover to ${config.drRegion}`);
}

/** `-c failover=<value>` as the app reads it: absent or `false` is the normal deployment, `true` the failover. */
export function failoverContext(value: unknown, environment: string): boolean {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new ConfigValidationError(environment, [`failover: got ${JSON.stringify(value)}; allowed: true or false (-c failover=true)`]);
}
