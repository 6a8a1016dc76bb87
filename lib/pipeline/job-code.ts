/**
 * How SageMaker processing jobs run the job code. The code is a gzipped tar of the `training/` package; a
 * container cannot unpack it by itself without an inline script, and CreateProcessingJob allows at most 256
 * characters per entrypoint or argument string. So a small launcher (`training/run_module.py`, uploaded as its
 * own object) arrives beside the archive as a second input, and every job's command is short:
 *
 *   python3 /opt/ml/processing/input/launcher/<hash>.py /opt/ml/processing/input/code/<hash>.gz training.data prepare ...
 */

import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';

/** Subnets and security groups of a job's ENIs. */
export interface JobPlacement {
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
}

/** A network-isolated processing job that runs our code: image, role, code, instance type, placement and key. */
export interface ProcessingJobSpec {
  readonly imageUri: string;
  readonly role: iam.IRole;
  /** The job code; the job runs `python -m <module>` from it. */
  readonly code: JobCode;
  readonly instanceType: string;
  readonly placement: JobPlacement;
  /** Encrypts the job's volume and outputs. */
  readonly key: kms.IKey;
}

/** Where the job code is in S3 (see `TrainingCodeAsset`). */
export interface JobCode {
  /** S3 URI of the code archive, a gzipped tar with the `training/` package at its root. */
  readonly archiveS3Uri: string;
  /** The archive's file name, the last part of its key: SageMaker copies the object in under this name. */
  readonly archiveFileName: string;
  /** S3 URI of the launcher script (`training/run_module.py`). */
  readonly launcherS3Uri: string;
  /** The launcher's file name, the last part of its key. */
  readonly launcherFileName: string;
}

/** Where the two inputs land in a processing container. */
export const PROCESSING_CODE_PATHS = {
  code: '/opt/ml/processing/input/code',
  launcher: '/opt/ml/processing/input/launcher',
} as const;

/** A CreateProcessingJob input that copies one S3 object (or prefix) into the container. */
export interface S3ProcessingInput<S = string> {
  readonly InputName: string;
  readonly S3Input: {
    readonly S3Uri: S;
    readonly LocalPath: string;
    readonly S3DataType: 'S3Prefix';
    readonly S3InputMode: 'File';
    readonly S3DataDistributionType: 'FullyReplicated';
  };
}

export function s3ProcessingInput<S>(name: string, uri: S, localPath: string): S3ProcessingInput<S> {
  return {
    InputName: name,
    S3Input: { S3Uri: uri, LocalPath: localPath, S3DataType: 'S3Prefix', S3InputMode: 'File', S3DataDistributionType: 'FullyReplicated' },
  };
}

/** The inputs every processing job that runs our code needs: the archive and the launcher. */
export function jobCodeInputs(code: JobCode): S3ProcessingInput[] {
  return [
    s3ProcessingInput('code', code.archiveS3Uri, PROCESSING_CODE_PATHS.code),
    s3ProcessingInput('launcher', code.launcherS3Uri, PROCESSING_CODE_PATHS.launcher),
  ];
}

/** The launcher as the container entrypoint. */
export function launcherEntrypoint(code: JobCode): string[] {
  return ['python3', `${PROCESSING_CODE_PATHS.launcher}/${code.launcherFileName}`];
}

/** Container arguments that run `python -m <module> <args...>` from the archive. */
export function moduleArguments<A>(code: JobCode, module: string, args: readonly A[]): (string | A)[] {
  return [`${PROCESSING_CODE_PATHS.code}/${code.archiveFileName}`, module, ...args];
}

/** Problems with a `JobCode` (file names and URIs that are literal at synth time). */
export function jobCodeProblems(code: JobCode, known: (v: unknown) => boolean): string[] {
  const problems: string[] = [];
  if (!/^[\w.-]+\.(tar\.gz|tgz|gz)$/.test(code.archiveFileName)) {
    problems.push(`code.archiveFileName must be a gzipped tar file name (.tar.gz, .tgz or .gz), got '${code.archiveFileName}'`);
  }
  if (!/^[\w.-]+\.py$/.test(code.launcherFileName)) {
    problems.push(`code.launcherFileName must be a Python file name (.py), got '${code.launcherFileName}'`);
  }
  for (const [name, uri, file] of [
    ['archiveS3Uri', code.archiveS3Uri, code.archiveFileName],
    ['launcherS3Uri', code.launcherS3Uri, code.launcherFileName],
  ] as const) {
    if (known(uri) && !(uri.startsWith('s3://') && uri.endsWith(`/${file}`))) {
      problems.push(`code.${name} must be an S3 URI ending with '/${file}', got '${uri}'`);
    }
  }
  return problems;
}
