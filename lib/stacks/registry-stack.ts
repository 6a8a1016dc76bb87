import * as path from 'path';
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { resourceName } from '../config/naming';
import { batchingEnvironment } from '../config/serving-images';
import { STORAGE_LAYOUT } from '../config/storage-layout';
import { acknowledgeNag, iam5ResourceFinding } from '../constructs/compliance';
import { DeadLetterQueue } from '../constructs/dead-letter-queue';
import { JobNetworkPlacement } from '../constructs/ml-service-role';
import { PLATFORM_NODE_RUNTIME, PlatformFunction } from '../constructs/platform-function';
import { typescriptHandlerCode } from '../constructs/typescript-handler-code';
import type { StagingTarget } from '../operations/staging';
import { environmentKey } from './environment-key';
import { NetworkStack } from './network-stack';
import { PipelinesStack } from './pipelines-stack';
import { SecurityStack } from './security-stack';
import { addOutputs } from './outputs';
import { StorageStack } from './storage-stack';

export interface RegistryStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
  /** Owns the model package group. */
  readonly pipelines: PipelinesStack;
}

/**
 * The approval workflow around the model registry: a version approved in the model package group goes to
 * the staging endpoint by itself (EventBridge -> Lambda, retries, dead-letter queue); production serves a
 * version only after a second, explicit step (its ARN in `serving.variants` or `-c serving=<file>`, then
 * `cdk deploy`, which rolls it out behind the endpoint's guardrails). The operations function runs the
 * endpoint operations (status, shift, promote, rollback, A/B result) inside the account.
 */
export class RegistryStack extends Stack {
  readonly approvalFunction: PlatformFunction;
  readonly operationsFunction: PlatformFunction;
  readonly approvalRule: events.Rule;
  readonly stagingEndpointName: string;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    const { config, network, storage, security, pipelines } = props;
    const s = config.serving;
    const net = network.network;
    const groupName = pipelines.fineTuning.modelPackageGroup.modelPackageGroupName!;
    this.stagingEndpointName = resourceName(config, 'llm-staging');
    const productionEndpointName = resourceName(config, 'llm');

    const key = environmentKey(this, 'RegistryKey', config, 'registry-operations', 'Registry and endpoint operations logs', {
      allowCloudWatchLogs: true,
    }).key;
    const deadLetters = new DeadLetterQueue(this, 'DeadLetters', {
      key,
      topic: security.alerts.topic,
      sources: 'approval events and the operations functions',
    }).queue;

    const staging: StagingTarget = {
      endpointName: this.stagingEndpointName,
      modelPackageGroupName: groupName,
      executionRoleArn: security.roles.deployment.role.roleArn,
      instanceType: s.stagingInstanceType,
      subnetIds: net.subnetsFor('inference').subnetIds,
      securityGroupIds: [net.securityGroups.inference.securityGroupId],
      dataCaptureUri: storage.buckets.modelArtifacts.bucket.s3UrlForObject(STORAGE_LAYOUT.modelArtifacts.prefixes.dataCapture),
      kmsKeyArn: storage.dataKey.keyArn,
      environment: batchingEnvironment(s.container, s.batching),
    };
    const placement: JobNetworkPlacement = { vpc: net.vpc, subnets: net.subnetsFor('processing').subnets, securityGroups: [net.securityGroups.lambda] };
    const code = typescriptHandlerCode(path.join(__dirname, '..', 'operations', 'handlers.ts'));
    const fn = (id: string, handler: string, description: string, timeout: Duration) =>
      new PlatformFunction(this, id, {
        code,
        runtime: PLATFORM_NODE_RUNTIME,
        handler: `index.${handler}`,
        description,
        placement,
        key,
        logRetention: logs.RetentionDays.ONE_YEAR,
        deadLetterQueue: deadLetters,
        timeout,
        reservedConcurrency: 2,
        environment: { FMFT_OPERATIONS_SETTINGS: Stack.of(this).toJsonString({ staging, endpointName: productionEndpointName }) },
      });

    // ---- approval -> staging
    this.approvalFunction = fn('Approval', 'approvalHandler', `Deploys approved model versions to ${this.stagingEndpointName}`, Duration.minutes(2));
    const sm = (resource: string, resourceName: string) => this.formatArn({ service: 'sagemaker', resource, resourceName });
    const approval = this.approvalFunction.role;
    const stagingObjects = [sm('model', `${this.stagingEndpointName}-*`), sm('endpoint-config', `${this.stagingEndpointName}-*`)];
    const add = (role: typeof approval, actions: string[], resources: string[]) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
    add(approval, ['sagemaker:DescribeModelPackage'], [sm('model-package', `${groupName}/*`)]);
    // Delete*: the function removes what it made when the deployment fails.
    add(approval, ['sagemaker:CreateModel', 'sagemaker:CreateEndpointConfig', 'sagemaker:DeleteModel', 'sagemaker:DeleteEndpointConfig'], stagingObjects);
    add(approval, ['sagemaker:CreateEndpoint', 'sagemaker:UpdateEndpoint', 'sagemaker:DescribeEndpoint'], [sm('endpoint', this.stagingEndpointName), stagingObjects[1]]);
    approval.allowPassRole('sagemaker.amazonaws.com', security.roles.deployment.role);
    approval.allowKeyUseVia(storage.dataKey, 'sagemaker', ['kms:CreateGrant', 'kms:DescribeKey']);
    const versioned = 'Model and endpoint-configuration names carry the version and a time stamp of each deployment; the statement is limited to the staging endpoint\u2019s prefix';
    acknowledgeNag(
      approval,
      { id: iam5ResourceFinding(approval, sm('model-package', `${groupName}/*`)), reason: 'Any version of this environment\u2019s model package group may be approved' },
      ...stagingObjects.map((arn) => ({ id: iam5ResourceFinding(approval, arn), reason: versioned })),
    );

    this.approvalRule = new events.Rule(this, 'VersionApproved', {
      description: `Deploys versions of ${groupName} approved in the registry to ${this.stagingEndpointName}`,
      eventPattern: {
        source: ['aws.sagemaker'],
        detailType: ['SageMaker Model Package State Change'],
        detail: { ModelPackageGroupName: [groupName], ModelApprovalStatus: ['Approved'] },
      },
      targets: [new targets.LambdaFunction(this.approvalFunction.fn, { deadLetterQueue: deadLetters, retryAttempts: 4, maxEventAge: Duration.hours(2) })],
    });

    // ---- endpoint operations
    this.operationsFunction = fn('Operations', 'operationsHandler', `Status, traffic shift, promotion, rollback and A/B result of ${productionEndpointName}`, Duration.minutes(15));
    const ops = this.operationsFunction.role;
    add(ops, ['sagemaker:DescribeEndpoint', 'sagemaker:UpdateEndpointWeightsAndCapacities'], [sm('endpoint', productionEndpointName), sm('endpoint', this.stagingEndpointName)]);
    add(ops, ['cloudwatch:DescribeAlarms', 'cloudwatch:GetMetricData'], ['*']);
    acknowledgeNag(ops, {
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:GetMetricData has no resource-level permissions and DescribeAlarms is read-only; the function reads endpoint metrics and rollback alarms',
    });
    addOutputs(this, {
      StagingEndpointName: { value: this.stagingEndpointName, description: 'Approved versions are deployed here (managed by the approval function, not by CloudFormation)' },
      OperationsFunctionName: { value: this.operationsFunction.fn.functionName, description: 'Endpoint status, shift, promote, rollback and A/B result (aws lambda invoke)' },
    });
  }
}
