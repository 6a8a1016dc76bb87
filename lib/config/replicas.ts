import { EnvironmentConfig, REPLICA_PURPOSE_PREFIX } from './environment-config';
import { bucketName, keyAlias, replicaBucketName, resourceName } from './naming';
import { ACCESS_LOGS_PURPOSE, INVOCATION_LOGS_PURPOSE, MlBucketKind, STORAGE_LAYOUT } from './storage-layout';

/** Key purposes (`<prefix>/<env>/<purpose>`) of the replicas' keys in the DR region. */
export const REPLICA_KEY_PURPOSES = { data: 'dr-data', invocationLogs: 'dr-invocation-logs' } as const;

/** Keys of the DR stack that no bucket uses: the copies of Bedrock custom models, and the DR workflows' logs and alerts. */
export const DR_KEY_PURPOSES = { bedrockCustomModel: 'dr-bedrock-custom-model', operations: 'dr-operations' } as const;

/**
 * AWS Backup's vaults: `<prefix>-<env>-backup` in primaryRegion (the storage stack) and `<prefix>-<env>-dr-backup`
 * in drRegion (the DR stack), each with its own key (`<prefix>/<env>/<purpose>`). A vault name is unique per
 * account and region (at most 50 letters, digits, - and _: BackupVaultName).
 */
export const BACKUP_VAULT_PURPOSES = { primary: 'backup', dr: `${REPLICA_PURPOSE_PREFIX}backup` } as const;

/** A restore into a new bucket creates `<prefix>-<env>-restored-<anything>`: the only new buckets the restore role may create and fill. */
export const RESTORED_BUCKET_PURPOSE = 'restored';

/** The vault names: the storage stack's copy rule targets the DR vault by this name, so it needs no cross-region reference. */
export function backupVaultNames(config: EnvironmentConfig): Readonly<Record<keyof typeof BACKUP_VAULT_PURPOSES, string>> {
  return { primary: resourceName(config, BACKUP_VAULT_PURPOSES.primary), dr: resourceName(config, BACKUP_VAULT_PURPOSES.dr) };
}

/** `<prefix>-<env>-restored-`: the first part of the name of every bucket a restore job may create. */
export function restoredBucketPrefix(config: EnvironmentConfig): string {
  return `${resourceName(config, RESTORED_BUCKET_PURPOSE)}-`;
}

/** What the storage stack replicates where: bucket names and key aliases of the DR region, built from the config alone. */
export interface ReplicaNames {
  readonly region: string;
  readonly buckets: Readonly<Record<MlBucketKind | 'invocationLogs' | 'accessLogs', string>>;
  /** Aliases without `alias/`. */
  readonly keyAliases: Readonly<Record<keyof typeof REPLICA_KEY_PURPOSES, string>>;
}

/** The replicas' names: the storage stack (primary region) and the DR stack (DR region) both build them, so neither needs the other's outputs. */
export function replicaNames(config: EnvironmentConfig, account: string): ReplicaNames {
  const name = (purpose: string) => replicaBucketName(config, purpose, account);
  return {
    region: config.drRegion,
    buckets: {
      trainingData: name(STORAGE_LAYOUT.trainingData.purpose),
      modelArtifacts: name(STORAGE_LAYOUT.modelArtifacts.purpose),
      evaluation: name(STORAGE_LAYOUT.evaluation.purpose),
      invocationLogs: name(INVOCATION_LOGS_PURPOSE),
      accessLogs: name(ACCESS_LOGS_PURPOSE),
    },
    keyAliases: { data: keyAlias(config, REPLICA_KEY_PURPOSES.data), invocationLogs: keyAlias(config, REPLICA_KEY_PURPOSES.invocationLogs) },
  };
}


/**
 * `{primary bucket name: replica bucket name}` of every replicated bucket: the DR stack writes it as its
 * `ReplicaBuckets` output, and the restore (`python -m training.dr restore`) maps the S3 URIs of the registry
 * exports with it, in the DR region, without asking the primary region anything.
 */
export function replicaOf(config: EnvironmentConfig, account: string): Record<string, string> {
  const { buckets } = replicaNames(config, account);
  const source = (purpose: string) => bucketName(config, purpose, account, config.primaryRegion);
  return {
    [source(STORAGE_LAYOUT.trainingData.purpose)]: buckets.trainingData,
    [source(STORAGE_LAYOUT.modelArtifacts.purpose)]: buckets.modelArtifacts,
    [source(STORAGE_LAYOUT.evaluation.purpose)]: buckets.evaluation,
    [source(INVOCATION_LOGS_PURPOSE)]: buckets.invocationLogs,
  };
}
