import * as fs from 'fs';
import * as path from 'path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';

export interface VersionReport {
  /** `v<version>`, the label in the comparison. */
  readonly label: string;
  readonly modelPackageArn: string;
  /** Local copy of the version's evaluation.json. */
  readonly file: string;
}

/**
 * Download the evaluation report the pipeline attached to each model package version (ModelMetrics ->
 * ModelQuality -> Statistics), so `python -m training.evaluate compare` can put them side by side.
 */
export async function downloadEvaluationReports(sm: SageMakerClient, s3: S3Client, packageArns: readonly string[], dir: string): Promise<VersionReport[]> {
  if (packageArns.length < 2) throw new Error(`--package: got ${packageArns.length}; a comparison needs at least two model package versions`);
  fs.mkdirSync(dir, { recursive: true });
  const reports: VersionReport[] = [];
  for (const arn of packageArns) {
    const version = /\/(\d+)$/.exec(arn)?.[1];
    if (!version) throw new Error(`--package: got "${arn}"; allowed: a versioned model package ARN ending in /<version>`);
    const pkg = await sm.send(new DescribeModelPackageCommand({ ModelPackageName: arn }));
    const uri = pkg.ModelMetrics?.ModelQuality?.Statistics?.S3Uri;
    if (!uri) throw new Error(`${arn}: no evaluation report is attached (ModelMetrics.ModelQuality.Statistics)`);
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    if (!match) throw new Error(`${arn}: the attached report "${uri}" is not an s3:// URI`);
    const body = await s3.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
    const file = path.join(dir, `v${version}.json`);
    fs.writeFileSync(file, await body.Body!.transformToString());
    reports.push({ label: `v${version}`, modelPackageArn: arn, file });
  }
  return reports;
}
