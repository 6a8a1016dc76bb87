import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { AssetHashType, BundlingOutput, DockerImage } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

/** Paths under the source directory that never ship to a job. */
export const TRAINING_CODE_EXCLUDES = ['tests', 'Dockerfile', '__pycache__', '*.pyc', '.pytest_cache', '.ruff_cache', 'bench_*.py'];

export interface TrainingCodeAssetProps {
  /** Directory whose contents become the job's code; its parent is put on PYTHONPATH by the job. */
  readonly sourceDirectory: string;
  /**
   * Name of the directory inside the archive, so `python -m <packageName>.train` works after extraction.
   * @default - the source directory's base name
   */
  readonly packageName?: string;
}

/**
 * The Python code of the jobs as a `sourcedir.tar.gz` CDK asset: SageMaker's training toolkit reads
 * `sagemaker_submit_directory` only as a gzipped tar, which a plain directory asset (a zip) is not. The
 * archive is built locally with `tar` (no Docker), byte-for-byte reproducible, and its hash follows the
 * source, so an unchanged tree never re-uploads.
 */
export class TrainingCodeAsset extends Construct {
  readonly asset: s3assets.Asset;
  /** `s3://bucket/key` of the archive (the key ends in `.gz`: CDK keeps the last extension only). */
  readonly s3Uri: string;

  constructor(scope: Construct, id: string, props: TrainingCodeAssetProps) {
    super(scope, id);
    const source = path.resolve(props.sourceDirectory);
    if (!fs.existsSync(source) || !fs.statSync(source).isDirectory()) {
      throw new Error(`Invalid TrainingCodeAsset props:\n- sourceDirectory must be an existing directory, got '${props.sourceDirectory}'`);
    }
    const packageName = props.packageName ?? path.basename(source);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(packageName)) {
      throw new Error(`Invalid TrainingCodeAsset props:\n- packageName must be a Python identifier, got '${packageName}'`);
    }

    this.asset = new s3assets.Asset(this, 'Archive', {
      path: source,
      exclude: TRAINING_CODE_EXCLUDES,
      assetHashType: AssetHashType.SOURCE,
      bundling: {
        // Never pulled: local bundling below always succeeds where tar exists.
        image: DockerImage.fromRegistry('local-bundling-only'),
        outputType: BundlingOutput.SINGLE_FILE,
        local: {
          tryBundle(outputDir: string): boolean {
            writeReproducibleArchive(source, packageName, path.join(outputDir, 'sourcedir.tar.gz'));
            return true;
          },
        },
      },
    });
    this.s3Uri = this.asset.s3ObjectUrl;
  }

  /**
   * Read exactly this archive (one object, no wildcard). SageMaker lists an S3Prefix input before copying
   * it, so listing is allowed too, for this key only.
   */
  grantRead(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.asset.bucket.arnForObjects(this.asset.s3ObjectKey)],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.asset.bucket.bucketArn],
        conditions: { StringEquals: { 's3:prefix': this.asset.s3ObjectKey } },
      }),
    );
  }
}

/** A gzipped tar with sorted entries, zero timestamps and owners, so equal sources give equal bytes. */
function writeReproducibleArchive(source: string, packageName: string, target: string): void {
  const tarArgs = [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    ...TRAINING_CODE_EXCLUDES.map((e) => `--exclude=${e}`),
    `--transform=s,^${escapeForSed(path.basename(source))},${packageName},`,
    '-C',
    path.dirname(source),
    '-cf',
    '-',
    path.basename(source),
  ];
  const tar = execFileSync('tar', tarArgs, { maxBuffer: 1024 * 1024 * 1024 });
  const gz = zlib.gzipSync(tar, { level: 9 });
  // gzip's header carries no name or time when written by zlib, so the bytes depend on the content only.
  fs.writeFileSync(target, gz);
}

function escapeForSed(text: string): string {
  return text.replace(/[.[\]*^$\\/]/g, '\\$&');
}
