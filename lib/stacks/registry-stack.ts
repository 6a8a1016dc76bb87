import * as path from 'path';
import { ArnFormat, DefaultStackSynthesizer, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { COST_TAG_KEYS, costTags } from '../config/cost-tags';
import { EnvironmentConfig } from '../config/environment-config';
import { environmentPrefix, resourceName } from '../config/naming';
import { DEFAULT_STAGING_P95_MS, PromotionConfig } from '../config/environment-config';
import { batchingEnvironment } from '../config/serving-images';
import { STORAGE_LAYOUT } from '../config/storage-layout';
import { acknowledgeNag, iam5ResourceFinding } from '../constructs/compliance';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as kms from 'aws-cdk-lib/aws-kms';
import { DeadLetterQueue } from '../constructs/dead-letter-queue';
import { JobNetworkPlacement, MlServiceRole } from '../constructs/ml-service-role';
import { PLATFORM_NODE_RUNTIME, PlatformFunction } from '../constructs/platform-function';
import { PromotionWorkflow } from '../constructs/promotion-workflow';
import { RegistryExport } from '../constructs/registry-export';
import { pythonHandlersCode } from '../constructs/python-handlers-code';
import { typescriptHandlerCode } from '../constructs/typescript-handler-code';
import type { StagingTarget } from '../operations/staging';
import { environmentKey } from './environment-key';
import { NetworkStack } from './network-stack';
import { PipelinesStack } from './pipelines-stack';
import { SecurityStack } from './security-stack';
import { addOutputs } from './outputs';
import { StorageStack } from './storage-stack';
import { TrainingStack } from './training-stack';

export interface RegistryStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
  /** Owns the model package group. */
  readonly pipelines: PipelinesStack;
  /** The job image and code the staging answers are scored with. */
  readonly training: TrainingStack;
  /** Name of the stack that serves production (`<prefix>-<env>-endpoints`): promotions update its parameters. */
  readonly endpointsStackName: string;
}

/** The staged promotion's parts (`serving.promotion`). */
export interface Promotion {
  readonly workflow: PromotionWorkflow;
  /** `training.registry.promotion.step_handler`: the workflow's Python steps. */
  readonly steps: PlatformFunction;
  /** `training.registry.promotion.events_handler`: starts the workflow for a new version and resumes it on approval. */
  readonly events: PlatformFunction;
  /** The quality canary's code, asked to send the golden prompts to staging. */
  readonly canary: PlatformFunction;
  /** Every model package state change of the group goes to `events`. */
  readonly rule: events.Rule;
  /** CloudFormation assumes it to update the endpoints stack's model versions, and may do nothing else. */
  readonly deployRole: iam.Role;
  /** Runs the scoring processing job. */
  readonly scoringRole: MlServiceRole;
}

/**
 * The way from the model registry to production. With `serving.promotion`, every version the pipeline
 * registers goes through the promotion workflow: staging, validation on staging (recorded on the version), a
 * request for approval, and after a person approves the version in the registry, the guarded production
 * rollout of `serving.promotion.variant` (CloudFormation updates the endpoints stack's model-version
 * parameter; SageMaker's blue/green deployment rolls back on alarms). The operations function runs the
 * endpoint operations (status, shift, promote, rollback, A/B result) inside the account.
 */
export class RegistryStack extends Stack {
  /** Deploys a candidate to the staging endpoint (a step of the promotion workflow). */
  readonly stagingFunction: PlatformFunction;
  readonly operationsFunction: PlatformFunction;
  /** Staged promotion of every registered version, when `serving.promotion` is set. */
  readonly promotion?: Promotion;
  readonly stagingEndpointName: string;
  /** Every version's registration, written where it replicates to the DR region (with disasterRecovery.replication). */
  readonly registryExport?: RegistryExport;

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
      // The staging endpoint bills like any other: the environment's cost tags, and the workflow that made it.
      tags: { ...costTags(config), [COST_TAG_KEYS.workflow]: resourceName(config, 'promotion') },
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

    // ---- staging deployment (a step of the promotion workflow)
    this.stagingFunction = fn('Staging', 'stagingHandler', `Deploys a candidate model version to ${this.stagingEndpointName}`, Duration.minutes(2));
    const sm = (resource: string, resourceName: string) => this.formatArn({ service: 'sagemaker', resource, resourceName });
    const stager = this.stagingFunction.role;
    const versions = sm('model-package', `${groupName}/*`);
    const stagingObjects = [sm('model', `${this.stagingEndpointName}-*`), sm('endpoint-config', `${this.stagingEndpointName}-*`)];
    const add = (role: MlServiceRole, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));
    add(stager, ['sagemaker:DescribeModelPackage'], [versions]);
    // Delete*: the function removes what it made when the deployment fails.
    add(stager, ['sagemaker:CreateModel', 'sagemaker:CreateEndpointConfig', 'sagemaker:DeleteModel', 'sagemaker:DeleteEndpointConfig'], stagingObjects);
    // Create* with Tags needs AddTags on what it creates.
    add(stager, ['sagemaker:AddTags'], [...stagingObjects, sm('endpoint', this.stagingEndpointName)]);
    add(stager, ['sagemaker:CreateEndpoint', 'sagemaker:UpdateEndpoint', 'sagemaker:DescribeEndpoint'], [sm('endpoint', this.stagingEndpointName), stagingObjects[1]]);
    stager.allowPassRole('sagemaker.amazonaws.com', security.roles.deployment.role);
    stager.allowKeyUseVia(storage.dataKey, 'sagemaker', ['kms:CreateGrant', 'kms:DescribeKey']);
    const versioned = 'Model and endpoint-configuration names carry the version and a time stamp of each deployment; the statement is limited to the staging endpoint\u2019s prefix';
    acknowledgeNag(
      stager,
      { id: iam5ResourceFinding(stager, versions), reason: 'Any registered version of this environment\u2019s model package group is a candidate' },
      ...stagingObjects.map((arn) => ({ id: iam5ResourceFinding(stager, arn), reason: versioned })),
    );

    if (config.disasterRecovery.replication) {
      this.registryExport = new RegistryExport(this, 'RegistryExport', {
        modelPackageGroupName: groupName,
        artifactsBucket: storage.buckets.modelArtifacts,
        code: pythonHandlersCode(path.join(__dirname, '..', '..', 'training')),
        placement,
        key,
        logRetention: config.monitoring.logRetentionDays as logs.RetentionDays,
        deadLetterQueue: deadLetters,
      });
    }

    if (s.promotion) {
      this.promotion = this.addPromotion(props, s.promotion, { key, deadLetters, staging, versions, groupName, productionEndpointName });
    }

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
      StagingEndpointName: { value: this.stagingEndpointName, description: 'Every registered version is validated here (managed by the promotion workflow, not by CloudFormation)' },
      OperationsFunctionName: { value: this.operationsFunction.fn.functionName, description: 'Endpoint status, shift, promote, rollback and A/B result (aws lambda invoke)' },
    });
  }

  private addPromotion(
    props: RegistryStackProps,
    promotion: PromotionConfig,
    shared: { key: kms.IKey; deadLetters: sqs.IQueue; staging: StagingTarget; versions: string; groupName: string; productionEndpointName: string },
  ): Promotion {
    const { config, network, storage, security, training } = props;
    const { key, deadLetters, versions, groupName } = shared;
    const layout = STORAGE_LAYOUT;
    const { buckets } = storage;
    const net = network.network;
    const retention = config.monitoring.logRetentionDays as logs.RetentionDays;
    const placement: JobNetworkPlacement = { vpc: net.vpc, subnets: net.subnetsFor('processing').subnets, securityGroups: [net.securityGroups.lambda] };
    const code = pythonHandlersCode(path.join(__dirname, '..', '..', 'training'));
    const stateMachineName = resourceName(config, 'promotion');
    const stateMachineArn = this.formatArn({ service: 'states', resource: 'stateMachine', resourceName: stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const endpointsStack = this.formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${props.endpointsStackName}/*` });
    const stagingPrefix = layout.evaluation.prefixes.staging;
    const v = promotion.validation;
    const add = (role: MlServiceRole, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));

    // CloudFormation updates the endpoints stack's model versions with this role, and nothing else: new models
    // and endpoint configurations replace the old ones, and the endpoint moves to them blue/green.
    const deployRole = new iam.Role(this, 'PromotionDeployRole', {
      assumedBy: new iam.ServicePrincipal('cloudformation.amazonaws.com'),
      description: `CloudFormation updates the model versions of ${props.endpointsStackName} (staged promotion)`,
    });
    const deployPolicy = new iam.ManagedPolicy(this, 'PromotionDeployPolicy', { roles: [deployRole], description: `Model-version updates of ${props.endpointsStackName}` });
    const sm = (resource: string, name: string) => this.formatArn({ service: 'sagemaker', resource, resourceName: name });
    const generated = [sm('model', '*'), sm('endpoint-config', '*')];
    const endpoint = sm('endpoint', shared.productionEndpointName);
    const qualifier = this.synthesizer instanceof DefaultStackSynthesizer ? (this.synthesizer.bootstrapQualifier ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER) : DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const bootstrapVersion = this.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `cdk-bootstrap/${qualifier}/version` });
    const alarms = this.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${shared.productionEndpointName}-*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    deployPolicy.addStatements(
      new iam.PolicyStatement({ actions: ['sagemaker:CreateModel', 'sagemaker:DescribeModel', 'sagemaker:DeleteModel', 'sagemaker:AddTags', 'sagemaker:ListTags'], resources: [generated[0]] }),
      new iam.PolicyStatement({
        actions: ['sagemaker:CreateEndpointConfig', 'sagemaker:DescribeEndpointConfig', 'sagemaker:DeleteEndpointConfig', 'sagemaker:AddTags', 'sagemaker:ListTags'],
        resources: [generated[1]],
      }),
      new iam.PolicyStatement({ actions: ['sagemaker:UpdateEndpoint', 'sagemaker:DescribeEndpoint', 'sagemaker:ListTags'], resources: [endpoint, generated[1]] }),
      new iam.PolicyStatement({ actions: ['sagemaker:DescribeModelPackage'], resources: [versions] }),
      new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: [alarms] }),
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [security.roles.deployment.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      }),
      new iam.PolicyStatement({
        actions: ['kms:CreateGrant', 'kms:DescribeKey'],
        resources: [storage.dataKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sagemaker.${this.region}.amazonaws.com` } },
      }),
      // The CDK's BootstrapVersion parameter is an SSM parameter type: CloudFormation resolves it with this role.
      new iam.PolicyStatement({ actions: ['ssm:GetParameters'], resources: [bootstrapVersion] }),
    );
    const generatedReason = 'CloudFormation generates the names of the endpoint\u2019s models and endpoint configurations (each update replaces them); the role can only be passed to CloudFormation, by the promotion steps, for the endpoints stack';
    acknowledgeNag(
      deployPolicy,
      ...generated.map((arn) => ({ id: iam5ResourceFinding(deployPolicy, arn), reason: generatedReason })),
      { id: iam5ResourceFinding(deployPolicy, versions), reason: 'Any approved version of this environment\u2019s model package group may be promoted' },
      { id: iam5ResourceFinding(deployPolicy, alarms), reason: 'The endpoint\u2019s rollback alarms, named after it' },
    );

    // The scoring job reads the staging answers and writes their score, nothing else.
    const scoringRole = new MlServiceRole(this, 'ScoringJobRole', {
      description: `Scores staging answers of ${config.name} candidates`,
      trust: { service: 'sagemaker.amazonaws.com', sourceArnPattern: this.formatArn({ service: 'sagemaker', resource: '*' }) },
    });
    buckets.evaluation.grantReadWriteObjects(scoringRole, stagingPrefix);
    scoringRole.allowSageMakerLogs('ProcessingJobs');
    scoringRole.allowMetrics('/aws/sagemaker/ProcessingJobs');
    scoringRole.allowImagePull(security.repository.repository);
    const jobPlacement = { vpc: net.vpc, subnets: net.subnetsFor('processing').subnets, securityGroups: [net.securityGroups.processing] };
    scoringRole.allowVpcPlacement(jobPlacement);

    const settings = {
      environment: config.name,
      modelPackageGroupName: groupName,
      stateMachineArn,
      stagingEndpointName: this.stagingEndpointName,
      container: config.serving.container,
      endpointsStackName: props.endpointsStackName,
      cloudFormationRoleArn: deployRole.roleArn,
      targetVariant: promotion.variant,
      artifactsBucket: buckets.modelArtifacts.bucket.bucketName,
      evaluationBucket: buckets.evaluation.bucket.bucketName,
      trainingDataBucket: buckets.trainingData.bucket.bucketName,
      goldenSetKey: v.goldenSetKey ?? null,
      validation: {
        task: v.task,
        records: v.records,
        maxNewTokens: v.maxNewTokens,
        maxLatencyP95Ms: v.maxLatencyP95Ms ?? DEFAULT_STAGING_P95_MS,
        maxErrorRate: v.maxErrorRate,
        minimumScore: v.minimumScore ?? null,
      },
      jobNamePrefix: environmentPrefix(config),
      topicArn: security.alerts.topic.topicArn,
    };
    const python = (id: string, handler: string, description: string, timeout: Duration, extra: { memorySizeMiB?: number } = {}) =>
      new PlatformFunction(this, id, {
        code,
        handler,
        description,
        placement,
        key,
        logRetention: retention,
        deadLetterQueue: deadLetters,
        timeout,
        reservedConcurrency: 2,
        environment: { FMFT_PROMOTION_SETTINGS: this.toJsonString(settings) },
        ...extra,
      });

    // ---- the steps: check, judge, await approval, deploy, roll back, finish
    const steps = python('PromotionSteps', 'training.registry.promotion.step_handler', `Steps of ${stateMachineName}: check, judge, approval request, production rollout`, Duration.minutes(5));
    const stepsRole = steps.role;
    add(stepsRole, ['sagemaker:DescribeModelPackage', 'sagemaker:UpdateModelPackage'], [versions]);
    buckets.trainingData.grantReadObjects(stepsRole, v.goldenSetKey ?? layout.trainingData.prefixes.processed);
    buckets.evaluation.grantReadWriteObjects(stepsRole, stagingPrefix);
    buckets.modelArtifacts.grantReadWriteObjects(stepsRole, layout.modelArtifacts.prefixes.servingManifests);
    buckets.modelArtifacts.grantReadWriteObjects(stepsRole, layout.modelArtifacts.prefixes.approvals);
    add(stepsRole, ['cloudformation:DescribeStacks', 'cloudformation:UpdateStack'], [endpointsStack]);
    add(stepsRole, ['iam:PassRole'], [deployRole.roleArn], { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } });
    stepsRole.allowPublish(security.alerts.topic);
    acknowledgeNag(
      stepsRole,
      { id: iam5ResourceFinding(stepsRole, versions), reason: 'Any registered version of this environment\u2019s model package group is a candidate; the steps record validation and rollout results on it' },
      { id: iam5ResourceFinding(stepsRole, endpointsStack), reason: 'The endpoints stack of this environment; CloudFormation appends a generated id to a stack\u2019s ARN' },
    );

    // ---- the events: a new version starts the workflow; Approved or Rejected resumes it
    const eventsFn = python('PromotionEvents', 'training.registry.promotion.events_handler', `Starts ${stateMachineName} for new versions and resumes it when a version is approved or rejected`, Duration.minutes(1));
    const eventsRole = eventsFn.role;
    add(eventsRole, ['sagemaker:DescribeModelPackage'], [versions]);
    // Reads the approval request a version waits with, and deletes it once answered.
    buckets.modelArtifacts.grantReadObjects(eventsRole, layout.modelArtifacts.prefixes.approvals);
    buckets.modelArtifacts.grantDeleteObjects(eventsRole, layout.modelArtifacts.prefixes.approvals);
    eventsRole.allowPublish(security.alerts.topic);
    acknowledgeNag(eventsRole, { id: iam5ResourceFinding(eventsRole, versions), reason: 'Any registered version of this environment\u2019s model package group may be approved or rejected' });

    // ---- the staging canary: the golden prompts to the staging endpoint
    const canary = python('StagingCanary', 'training.monitor.canary.handler', `Sends the golden prompts to ${this.stagingEndpointName} for the staging validation`, Duration.minutes(15), { memorySizeMiB: 1024 });
    buckets.trainingData.grantReadObjects(canary.role, v.goldenSetKey ?? layout.trainingData.prefixes.processed);
    buckets.evaluation.grantWriteObjects(canary.role, stagingPrefix);
    add(canary.role, ['sagemaker:InvokeEndpoint'], [sm('endpoint', this.stagingEndpointName)]);

    const workflow = new PromotionWorkflow(this, 'Promotion', {
      stateMachineName,
      promotion,
      stepsFunction: steps.fn,
      stagingFunction: this.stagingFunction.fn,
      canaryFunction: canary.fn,
      stagingEndpointName: this.stagingEndpointName,
      container: config.serving.container,
      scoring: {
        imageUri: training.jobs.processingImageUri,
        role: scoringRole.role,
        code: training.code.jobCode,
        instanceType: config.training.processingInstanceType,
        placement: { subnetIds: jobPlacement.subnets.map((sn) => sn.subnetId), securityGroupIds: [net.securityGroups.processing.securityGroupId] },
        key: storage.dataKey,
      },
      topic: security.alerts.topic,
      logKey: key,
      logRetention: retention,
      tags: costTags(config),
    });
    add(eventsRole, ['states:StartExecution'], [workflow.stateMachine.stateMachineArn]);
    workflow.stateMachine.grantTaskResponse(eventsRole.grantPrincipal);

    const rule = new events.Rule(this, 'ModelPackageChanges', {
      description: `Starts ${stateMachineName} for every new version of ${groupName} and resumes it when the version is approved or rejected`,
      eventPattern: {
        source: ['aws.sagemaker'],
        detailType: ['SageMaker Model Package State Change'],
        detail: { ModelPackageGroupName: [groupName], ModelApprovalStatus: ['PendingManualApproval', 'Approved', 'Rejected'] },
      },
      targets: [new targets.LambdaFunction(eventsFn.fn, { deadLetterQueue: deadLetters, retryAttempts: 4, maxEventAge: Duration.hours(2) })],
    });
    addOutputs(this, {
      PromotionStateMachineArn: { value: workflow.stateMachine.stateMachineArn, description: 'Staged promotion: staging, validation, approval, production rollout; start a rollback with {"action": "rollback"}' },
      PromotionStepsFunctionName: { value: steps.fn.functionName, description: 'Its environment holds FMFT_PROMOTION_SETTINGS for python -m training.registry.promotion' },
    });
    return { workflow, steps, events: eventsFn, canary, rule, deployRole, scoringRole };
  }
}
