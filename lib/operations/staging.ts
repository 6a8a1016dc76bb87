import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeModelPackageCommand,
  ProductionVariantInstanceType,
  SageMakerClient,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';

/** Where and how a version is served for staging, before or after its approval. */
export interface StagingTarget {
  readonly endpointName: string;
  /** Only versions of this group are deployed. */
  readonly modelPackageGroupName: string;
  readonly executionRoleArn: string;
  readonly instanceType: string;
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
  /** Data capture destination and its key; omit both to capture nothing. */
  readonly dataCaptureUri?: string;
  readonly kmsKeyArn?: string;
  /** Extra container environment (continuous batching). */
  readonly environment?: Record<string, string>;
  /** Tags of the model, endpoint configuration and endpoint (the environment's cost tags). @default none */
  readonly tags?: Record<string, string>;
}

/** The one production variant of the staging endpoint (the promotion's staging canary asks it). */
export const STAGING_VARIANT = 'staging';

export interface StagingDeployment {
  readonly action: 'created' | 'updated';
  readonly endpointName: string;
  readonly endpointConfigName: string;
  readonly modelName: string;
  readonly modelPackageArn: string;
}

/**
 * Approval states a version may be in to go to staging: the promotion workflow validates a version there
 * before a human approves it, and an approved one may be staged again; a rejected one never is.
 */
export const STAGING_APPROVAL_STATUSES: readonly string[] = ['PendingManualApproval', 'Approved'];

const VERSIONED_PACKAGE = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package\/([a-zA-Z0-9-]{1,63})\/(\d+)$/;

/**
 * Serve a model package version on the staging endpoint: a new network-isolated model and endpoint
 * configuration (names carry the version and a time stamp, so every deployment is traceable), then
 * CreateEndpoint the first time and UpdateEndpoint after that; when a step fails, the model and configuration
 * it made are deleted again. Refuses versions of another group and versions whose approval status is not one
 * of STAGING_APPROVAL_STATUSES (pending or approved).
 */
export async function deployToStaging(sm: SageMakerClient, target: StagingTarget, modelPackageArn: string, now = new Date()): Promise<StagingDeployment> {
  const match = VERSIONED_PACKAGE.exec(modelPackageArn);
  if (!match) throw new Error(`modelPackageArn: got "${modelPackageArn}"; allowed: arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>`);
  const [, group, version] = match;
  if (group !== target.modelPackageGroupName) {
    throw new Error(`modelPackageArn: got a version of "${group}"; this stage deploys "${target.modelPackageGroupName}" only`);
  }
  const pkg = await sm.send(new DescribeModelPackageCommand({ ModelPackageName: modelPackageArn }));
  if (!STAGING_APPROVAL_STATUSES.includes(pkg.ModelApprovalStatus ?? '')) {
    throw new Error(`${modelPackageArn}: approval status is ${pkg.ModelApprovalStatus ?? 'missing'}; allowed for staging: ${STAGING_APPROVAL_STATUSES.join(', ')}`);
  }
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const base = `${target.endpointName}-v${version}-${stamp}`.slice(0, 63);
  const entries = Object.entries(target.tags ?? {});
  const Tags = entries.length ? entries.map(([Key, Value]) => ({ Key, Value })) : undefined;
  await sm.send(
    new CreateModelCommand({
      ModelName: base,
      ExecutionRoleArn: target.executionRoleArn,
      Containers: [{ ModelPackageName: modelPackageArn, Environment: target.environment }],
      EnableNetworkIsolation: true,
      VpcConfig: { Subnets: target.subnetIds, SecurityGroupIds: target.securityGroupIds },
      Tags,
    }),
  );
  let configCreated = false;
  let exists: boolean;
  try {
    await sm.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: base,
        ProductionVariants: [{ VariantName: STAGING_VARIANT, ModelName: base, InstanceType: target.instanceType as ProductionVariantInstanceType, InitialInstanceCount: 1, InitialVariantWeight: 1 }],
        DataCaptureConfig: target.dataCaptureUri
          ? {
              EnableCapture: true,
              InitialSamplingPercentage: 100,
              DestinationS3Uri: target.dataCaptureUri,
              KmsKeyId: target.kmsKeyArn,
              CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
            }
          : undefined,
        Tags,
      }),
    );
    configCreated = true;
    exists = await endpointExists(sm, target.endpointName);
    if (exists) {
      await sm.send(new UpdateEndpointCommand({ EndpointName: target.endpointName, EndpointConfigName: base }));
    } else {
      await sm.send(new CreateEndpointCommand({ EndpointName: target.endpointName, EndpointConfigName: base, Tags }));
    }
  } catch (e) {
    // Nothing half-made stays behind: the endpoint still runs its previous configuration (or none).
    if (configCreated) await bestEffort(() => sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: base })));
    await bestEffort(() => sm.send(new DeleteModelCommand({ ModelName: base })));
    throw e;
  }
  return { action: exists ? 'updated' : 'created', endpointName: target.endpointName, endpointConfigName: base, modelName: base, modelPackageArn };
}

/** Clean-up that must not hide the error that made it necessary. */
async function bestEffort(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch {
    // The original error is rethrown by the caller.
  }
}

async function endpointExists(sm: SageMakerClient, name: string): Promise<boolean> {
  try {
    await sm.send(new DescribeEndpointCommand({ EndpointName: name }));
    return true;
  } catch (e) {
    const err = e as { name?: string; message?: string };
    if (err.name === 'ValidationException' && /could not find/i.test(err.message ?? '')) return false;
    throw e;
  }
}
