import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../../config/environment-config';
import { acknowledgeNag, iam5ResourceFinding } from '../compliance';
import { MlBucket } from '../ml-bucket';
import { MlServiceRole, JobNetworkPlacement } from '../ml-service-role';
import { PlatformFunction } from '../platform-function';

export interface ChampionFinderProps {
  /** The platform's Python handlers (training/). */
  readonly code: lambda.Code;
  readonly placement: JobNetworkPlacement;
  /** Encrypts the function's log group and environment; must admit CloudWatch Logs. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Receives events of failed asynchronous invocations (the pipeline invokes synchronously). */
  readonly deadLetterQueue: sqs.IQueue;
  /** The group the pipeline registers into; the function reads only its versions. */
  readonly modelPackageGroupName: string;
  /** The function's name: the pipeline role's grant names it (that role lives in another stack). */
  readonly functionName: string;
  /** Versions the environment's serving config deploys, most traffic first. @default none */
  readonly servedModelPackageArns?: readonly string[];
  /**
   * The staged promotion's serving manifest (`serving/manifests/current.json`): when it exists and serves,
   * its variants are production, not the config's. @default none
   */
  readonly servingManifest?: { readonly bucket: MlBucket; readonly key: string };
}

/** The versioned model packages a serving config deploys, most traffic first (variants, then shared components). */
export function servedVersions(config: EnvironmentConfig): string[] {
  const variants = [...config.serving.variants].sort((a, b) => b.initialWeight - a.initialWeight).map((v) => v.modelPackageArn);
  const components = (config.serving.sharedEndpoint?.components ?? []).map((c) => c.modelPackageArn);
  return [...new Set([...variants, ...components])];
}

/**
 * The function a pipeline's Lambda step calls to find the production version a candidate must beat
 * (`training.registry.champion.handler`): the first served version of the group that is Approved, else the
 * group's latest Approved version, else none. It may only describe and list the group's versions.
 */
export class ChampionFinder extends Construct {
  readonly handler: PlatformFunction;
  readonly functionName: string;

  constructor(scope: Construct, id: string, props: ChampionFinderProps) {
    super(scope, id);
    this.functionName = props.functionName;
    const stack = Stack.of(this);
    const group = props.modelPackageGroupName;
    // Only this group's versions can be its champion (and the function may describe only those).
    const served = (props.servedModelPackageArns ?? []).filter((arn) => arn.toLowerCase().includes(`:model-package/${group.toLowerCase()}/`));
    this.handler = new PlatformFunction(this, 'Handler', {
      code: props.code,
      functionName: props.functionName,
      handler: 'training.registry.champion.handler',
      description: `Finds the production version of ${props.modelPackageGroupName} for the pipeline's comparison`,
      placement: props.placement,
      key: props.key,
      logRetention: props.logRetention,
      deadLetterQueue: props.deadLetterQueue,
      timeout: Duration.minutes(1),
      reservedConcurrency: 2,
      environment: {
        FMFT_CHAMPION_SETTINGS: stack.toJsonString({
          servedModelPackageArns: served,
          ...(props.servingManifest ? { manifestBucket: props.servingManifest.bucket.bucket.bucketName, manifestKey: props.servingManifest.key } : {}),
        }),
      },
    });
    // Grants go by prefix: the manifest's folder (the manifest in force and its history).
    if (props.servingManifest) props.servingManifest.bucket.grantReadObjects(this.handler.role, props.servingManifest.key.slice(0, props.servingManifest.key.lastIndexOf('/') + 1));
    const versions = stack.formatArn({ service: 'sagemaker', resource: 'model-package', resourceName: `${group.toLowerCase()}/*` });
    const role = this.handler.role;
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeModelPackage'], resources: [versions] }));
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:ListModelPackages'], resources: ['*'] }));
    acknowledgeNag(
      role,
      { id: iam5ResourceFinding(role, versions), reason: "Versions are numbered as they are registered; the function describes only this group's (model-package/<group>/*)" },
      { id: iam5ResourceFinding(role, '*'), reason: 'sagemaker:ListModelPackages has no resource-level permissions (Service Authorization Reference: resource types none); the function lists only this group (ModelPackageGroupName)' },
    );
  }

  /**
   * Let a pipeline's execution role invoke the function (its Lambda step). The ARN is built from the name,
   * so a role in another stack gets no reference to this one (which would be a dependency cycle).
   */
  grantInvoke(role: MlServiceRole): void {
    const arn = Stack.of(this).formatArn({ service: 'lambda', resource: 'function', resourceName: this.functionName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    // The step invokes the unqualified ARN (no version or alias).
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [arn] }));
  }
}
