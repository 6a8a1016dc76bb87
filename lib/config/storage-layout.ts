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
