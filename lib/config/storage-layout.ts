import layout from '../../training/contracts/storage-layout.json';

/**
 * The S3 layout shared with the Python code. The JSON file is the single source of truth; this module gives
 * it types. Never write one of these prefixes as a literal elsewhere.
 */
export const STORAGE_LAYOUT = {
  trainingData: layout.buckets.trainingData,
  modelArtifacts: layout.buckets.modelArtifacts,
  evaluation: layout.buckets.evaluation,
} as const;

export type MlBucketKind = keyof typeof STORAGE_LAYOUT;

/** `prefix*` for IAM resources and S3 rule filters. */
export function objectsUnder(prefix: string): string {
  return `${prefix}*`;
}

/** Folders of datasets under the raw prefix (`raw/<dataset>/`) that retraining triggers know by name. */
export const DATASET_FOLDER = {
  pattern: new RegExp(layout.buckets.trainingData.datasetFolder.pattern),
  maxLength: layout.buckets.trainingData.datasetFolder.maxLength,
  allowed: layout.buckets.trainingData.datasetFolder.allowed,
} as const;

/** Why `name` cannot be a dataset folder, or undefined. */
export function datasetFolderProblem(name: string): string | undefined {
  return DATASET_FOLDER.pattern.test(name) && name.length <= DATASET_FOLDER.maxLength ? undefined : `allowed: ${DATASET_FOLDER.allowed}`;
}

/** The serving manifest in force (in the model-artifacts bucket): what the staged promotion put in production. */
export const SERVING_MANIFEST_KEY = `${layout.buckets.modelArtifacts.prefixes.servingManifests}current.json`;

/** Purpose part of the names of the buckets outside the layout above. */
export const INVOCATION_LOGS_PURPOSE = 'invocation-logs';
export const ACCESS_LOGS_PURPOSE = 'access-logs';
