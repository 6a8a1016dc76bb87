import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { STORAGE_LAYOUT } from '../config/storage-layout';
import { acknowledgeNag, iam5ResourceFinding } from './compliance';
import { MlBucket } from './ml-bucket';
import { JobNetworkPlacement } from './ml-service-role';
import { PlatformFunction } from './platform-function';

/** The Python handler (training/dr/registry_export.py) and the environment variable of its settings. */
export const REGISTRY_EXPORT_HANDLER = 'training.dr.registry_export.handler';
export const REGISTRY_EXPORT_SETTINGS_ENV = 'FMFT_REGISTRY_EXPORT_SETTINGS';

export interface RegistryExportProps {
  /** The model package group whose versions are exported. */
  readonly modelPackageGroupName: string;
  /** Receives `registry/versions/<group>/<version>.json`; it replicates into the DR region. */
  readonly artifactsBucket: MlBucket;
  /** The Python handlers' code (`pythonHandlersCode`). */
  readonly code: lambda.Code;
  readonly placement: JobNetworkPlacement;
  /** Encrypts the function's logs and environment. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Failed deliveries and invocations land here (its alarm notifies). */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * Keeps the model registry as data: every state change of a version of the group (registered, approved,
 * rejected) rewrites the version's export file in the artifacts bucket, which S3 replication copies to the
 * DR region with the model itself. The registry is regional; with this, the DR region can register the
 * versions again (`python -m training.dr restore`) while the primary region is down.
 */
export class RegistryExport extends Construct {
  readonly function: PlatformFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: RegistryExportProps) {
    super(scope, id);
    const group = props.modelPackageGroupName;
    // CreateModelPackageGroup's name pattern (botocore's sagemaker model, EntityName).
    if (!Token.isUnresolved(group) && !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(group)) {
      throw new Error(`Invalid RegistryExport props:\n- modelPackageGroupName: got '${group}'; allowed: 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit`);
    }
    const settings = { modelPackageGroupName: group, artifactsBucket: props.artifactsBucket.bucket.bucketName };
    this.function = new PlatformFunction(this, 'Function', {
      code: props.code,
      handler: REGISTRY_EXPORT_HANDLER,
      description: `Writes each version of ${group} to the artifacts bucket, which replicates to the DR region`,
      placement: props.placement,
      key: props.key,
      logRetention: props.logRetention,
      deadLetterQueue: props.deadLetterQueue,
      timeout: Duration.minutes(1),
      reservedConcurrency: 2,
      environment: { [REGISTRY_EXPORT_SETTINGS_ENV]: Stack.of(this).toJsonString(settings) },
    });
    const role = this.function.role;
    const versions = Stack.of(this).formatArn({ service: 'sagemaker', resource: 'model-package', resourceName: `${group}/*` });
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeModelPackage'], resources: [versions] }));
    // ListModelPackages (the command's backfill of every version) has no resource-level permission: people
    // run that command with their own credentials, so the function does not get it.
    props.artifactsBucket.grantWriteObjects(role, STORAGE_LAYOUT.modelArtifacts.prefixes.registryExports);
    acknowledgeNag(role, { id: iam5ResourceFinding(role, versions), reason: 'Every version of this environment\u2019s model package group is exported' });

    this.rule = new events.Rule(this, 'VersionChanges', {
      description: `Exports every version of ${group} on each state change (registered, approved, rejected)`,
      eventPattern: { source: ['aws.sagemaker'], detailType: ['SageMaker Model Package State Change'], detail: { ModelPackageGroupName: [group] } },
      targets: [new targets.LambdaFunction(this.function.fn, { deadLetterQueue: props.deadLetterQueue, retryAttempts: 4, maxEventAge: Duration.hours(2) })],
    });
  }
}
