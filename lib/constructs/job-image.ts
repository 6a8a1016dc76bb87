import * as fs from 'fs';
import * as path from 'path';
import { IgnoreMode } from 'aws-cdk-lib';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { MlServiceRole } from './ml-service-role';

/** The only files of the build context: the image must not rebuild when unrelated code changes. */
export const JOB_IMAGE_CONTEXT_FILES = ['Dockerfile', 'requirements.txt'] as const;

export interface JobImageProps {
  /** Directory holding `Dockerfile` and `requirements.txt` (the `training/` package). */
  readonly directory: string;
  /** Image the Dockerfile builds FROM, passed as the `BASE_IMAGE` build argument. */
  readonly baseImage: string;
}

/**
 * The container image of the platform's SageMaker jobs, built by `cdk deploy` from `training/Dockerfile`
 * (the region's DLC plus the pinned requirements) and pushed to the CDK asset repository. Synth stages the
 * two-file build context and needs no Docker. The image tag is the hash of that context and the base image,
 * so an unchanged requirements file never rebuilds or re-pushes.
 */
export class JobImage extends Construct {
  readonly asset: DockerImageAsset;
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<asset repository>:<hash>`. */
  readonly imageUri: string;

  constructor(scope: Construct, id: string, props: JobImageProps) {
    super(scope, id);
    const directory = path.resolve(props.directory);
    const missing = JOB_IMAGE_CONTEXT_FILES.filter((f) => !fs.existsSync(path.join(directory, f)));
    if (missing.length > 0) {
      throw new Error(`Invalid JobImage props:\n- directory: got '${props.directory}'; it lacks ${missing.join(', ')}`);
    }
    if (!/^[\w.-]+(:\d+)?(\/[\w.-]+)+(:[\w.-]+|@sha256:[0-9a-f]{64})$/.test(props.baseImage)) {
      throw new Error(
        `Invalid JobImage props:\n- baseImage: got '${props.baseImage}'; allowed: <registry>/<repository>:<tag> or <registry>/<repository>@sha256:<digest>`,
      );
    }
    this.asset = new DockerImageAsset(this, 'Image', {
      directory,
      buildArgs: { BASE_IMAGE: props.baseImage },
      platform: Platform.LINUX_AMD64,
      ignoreMode: IgnoreMode.DOCKER,
      exclude: ['*', ...JOB_IMAGE_CONTEXT_FILES.map((f) => `!${f}`)],
      displayName: 'SageMaker job image',
    });
    this.imageUri = this.asset.imageUri;
  }

  /** Let job roles pull from the asset repository holding this image (ECR has no per-tag permissions). */
  grantPull(...roles: MlServiceRole[]): void {
    for (const role of roles) role.allowImagePull(this.asset.repository);
  }
}
