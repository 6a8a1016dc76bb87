import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { JobCode } from '../pipeline/job-code';

/** Paths under the source directory that never ship to a job. */
export const TRAINING_CODE_EXCLUDES = ['tests', 'Dockerfile', '__pycache__', '*.pyc', '.pytest_cache', '.ruff_cache', 'bench_*.py'];

/** The processing-job launcher, relative to the source directory (see lib/pipeline/job-code.ts). */
export const LAUNCHER_SCRIPT = 'run_module.py';

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
 * The Python code of the jobs as two S3 assets: a `sourcedir.tar.gz` archive of the package (SageMaker's
 * training toolkit reads `sagemaker_submit_directory` only as a gzipped tar, which a directory asset, a zip,
 * is not) and the launcher script that processing jobs run to unpack and start a module of it.
 *
 * The archive is built with `tar` when the construct is created, not by asset bundling: the CDK CLI skips
 * bundling for commands that do not deploy (`cdk ls`, `cdk destroy`, ...), and a skipped bundle would stage
 * the directory as a zip. It is byte-for-byte reproducible, so an unchanged tree never re-uploads.
 */
export class TrainingCodeAsset extends Construct {
  /** The archive. */
  readonly asset: s3assets.Asset;
  /** The launcher script. */
  readonly launcher: s3assets.Asset;
  /** `s3://bucket/key` of the archive (the key ends in `.gz`: CDK keeps the last extension only). */
  readonly s3Uri: string;
  /** Where jobs find the archive and the launcher. */
  readonly jobCode: JobCode;

  constructor(scope: Construct, id: string, props: TrainingCodeAssetProps) {
    super(scope, id);
    const source = path.resolve(props.sourceDirectory);
    const packageName = props.packageName ?? path.basename(source);
    const problems: string[] = [];
    const isDirectory = fs.existsSync(source) && fs.statSync(source).isDirectory();
    if (!isDirectory) problems.push(`sourceDirectory must be an existing directory, got '${props.sourceDirectory}'`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(packageName)) problems.push(`packageName must be a Python identifier, got '${packageName}'`);
    if (isDirectory && !fs.existsSync(path.join(source, LAUNCHER_SCRIPT))) {
      problems.push(`sourceDirectory must contain the processing-job launcher ${LAUNCHER_SCRIPT}, got '${props.sourceDirectory}'`);
    }
    if (problems.length) throw new Error(`Invalid TrainingCodeAsset props:\n- ${problems.join('\n- ')}`);

    this.asset = new s3assets.Asset(this, 'Archive', { path: writeReproducibleArchive(source, packageName) });
    this.launcher = new s3assets.Asset(this, 'Launcher', { path: path.join(source, LAUNCHER_SCRIPT) });
    this.s3Uri = this.asset.s3ObjectUrl;
    this.jobCode = {
      archiveS3Uri: this.asset.s3ObjectUrl,
      archiveFileName: fileName(this.asset),
      launcherS3Uri: this.launcher.s3ObjectUrl,
      launcherFileName: fileName(this.launcher),
    };
  }

  /**
   * Read exactly the archive and the launcher (one object each, no wildcard): what a processing job needs.
   * SageMaker lists an S3Prefix input before copying it, so listing is allowed too, for these keys only.
   */
  grantRead(grantee: iam.IGrantable): void {
    this.grantObjects(grantee, [this.asset, this.launcher]);
  }

  /** Read exactly the archive: what a training job needs (it runs the archive, not the launcher). */
  grantReadArchive(grantee: iam.IGrantable): void {
    this.grantObjects(grantee, [this.asset]);
  }

  private grantObjects(grantee: iam.IGrantable, assets: s3assets.Asset[]): void {
    for (const asset of assets) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [asset.bucket.arnForObjects(asset.s3ObjectKey)] }),
      );
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [asset.bucket.bucketArn],
          conditions: { StringEquals: { 's3:prefix': asset.s3ObjectKey } },
        }),
      );
    }
  }
}

/** The object's file name, which SageMaker keeps when it copies the object into a job. */
function fileName(asset: s3assets.Asset): string {
  return asset.s3ObjectKey.split('/').pop()!;
}

/**
 * A gzipped tar with sorted entries, zero timestamps and owners, so equal sources give equal bytes. Written
 * once per content to a cache folder (the asset stages a copy into the cloud assembly).
 */
function writeReproducibleArchive(source: string, packageName: string): string {
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
  // gzip's header carries no name or time when written by zlib, so the bytes depend on the content only.
  const gz = zlib.gzipSync(tar, { level: 9 });
  const dir = path.join(os.tmpdir(), 'fmft-job-code');
  const target = path.join(dir, `${createHash('sha256').update(gz).digest('hex')}.tar.gz`);
  if (!fs.existsSync(target)) {
    fs.mkdirSync(dir, { recursive: true });
    const partial = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(partial, gz);
    fs.renameSync(partial, target);
  }
  return target;
}

function escapeForSed(text: string): string {
  return text.replace(/[.[\]*^$\\/]/g, '\\$&');
}
