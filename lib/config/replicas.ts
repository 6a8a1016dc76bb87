import { EnvironmentConfig } from './environment-config';
import { keyAlias, replicaBucketName } from './naming';
import { ACCESS_LOGS_PURPOSE, INVOCATION_LOGS_PURPOSE, MlBucketKind, STORAGE_LAYOUT } from './storage-layout';

/** Key purposes (`<prefix>/<env>/<purpose>`) of the replicas' keys in the DR region. */
export const REPLICA_KEY_PURPOSES = { data: 'dr-data', invocationLogs: 'dr-invocation-logs' } as const;

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

