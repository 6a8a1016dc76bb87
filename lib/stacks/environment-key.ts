import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { keyAlias } from '../config/naming';
import { PlatformKey } from '../constructs/platform-key';

/**
 * A customer managed key of the environment: alias `<prefix>/<env>/<purpose>`, and rotation, deletion
 * window and retention from the config, so every stack's keys follow the same settings.
 */
export function environmentKey(
  scope: Construct,
  id: string,
  config: EnvironmentConfig,
  purpose: string,
  description: string,
  options: { readonly allowCloudWatchLogs?: boolean } = {},
): PlatformKey {
  return new PlatformKey(scope, id, {
    aliasName: keyAlias(config, purpose),
    description: `${description} of ${config.name}`,
    rotationPeriodDays: config.encryption.keyRotationPeriodDays,
    deletionWindowDays: config.encryption.keyDeletionWindowDays,
    retainOnDelete: config.storage.retainOnDelete,
    allowCloudWatchLogs: options.allowCloudWatchLogs,
  });
}
