import * as path from 'path';
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { COST_TAG_KEYS, costTags } from '../config/cost-tags';
import { EnvironmentConfig } from '../config/environment-config';
import { environmentPrefix, resourceName } from '../config/naming';
import { STORAGE_LAYOUT } from '../config/storage-layout';
import { BedrockCustomizationWorkflow } from '../constructs/bedrock-customization-workflow';
import { forwardCustomizationEvents } from '../constructs/bedrock-model-copy';
import { acknowledgeNag, iam5ResourceFinding } from '../constructs/compliance';
import { DeadLetterQueue } from '../constructs/dead-letter-queue';
import { BedrockInvocationLogging } from '../constructs/bedrock-invocation-logging';
import { JobNetworkPlacement, MlServiceRole } from '../constructs/ml-service-role';
import { RetrainingTrigger } from '../constructs/pipelines/retraining-trigger';
import { PlatformFunction } from '../constructs/platform-function';
import { pythonHandlersCode } from '../constructs/python-handlers-code';
import { ThroughputGuard } from '../constructs/throughput-guard';
import { environmentKey } from './environment-key';
import { NetworkStack } from './network-stack';
import { addOutputs } from './outputs';
import { TrainingStack } from './training-stack';
import { SecurityStack } from './security-stack';
import { StorageStack } from './storage-stack';

export interface BedrockStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
  /** Supplies the evaluation job's image and code. */
  /** The job image and code its evaluation job runs. */
  readonly training: TrainingStack;
}

/** Tag on everything the workflows create, naming the environment that owns it (the cost tags' environment). */
export const OWNER_TAG_KEY = COST_TAG_KEYS.environment;

/** Prefix of the Bedrock reports in the evaluation bucket, next to the SageMaker pipeline's reports. */
/** Minutes a Bedrock dataset folder must stay unchanged before its run starts, unless `bedrock.trigger.quietMinutes` says. */
export const DEFAULT_DATASET_QUIET_MINUTES = 10;

export const BEDROCK_REPORTS_PREFIX = `${STORAGE_LAYOUT.evaluation.prefixes.reports}bedrock/`;

/**
 * The Bedrock customization path of an environment: the state machine that runs a customization from data
 * to an evaluated, provisioned custom model; its S3 trigger; model invocation logging; and the hourly guard
 * against forgotten provisioned throughput.
 */
export class BedrockStack extends Stack {
  readonly workflow: BedrockCustomizationWorkflow;
  readonly invocationLogging: BedrockInvocationLogging;
  readonly guard: ThroughputGuard;
  /** Starts a run when a dataset folder under `bedrock.trigger.datasetPrefix` has settled and holds train.jsonl. */
  readonly trigger?: RetrainingTrigger;

  constructor(scope: Construct, id: string, props: BedrockStackProps) {
    super(scope, id, props);
    const { config, network, storage, security, training } = props;
    const b = config.bedrock;
    const layout = STORAGE_LAYOUT;
    const { buckets } = storage;
    const net = network.network;
    const alerts = security.alerts;
    const retention = b.invocationLogRetentionDays as logs.RetentionDays;

    const key = environmentKey(this, 'BedrockKey', config, 'bedrock-operations', 'Bedrock invocation logs, state machine and function logs', {
      allowCloudWatchLogs: true,
    }).key;

    const deadLetters = new DeadLetterQueue(this, 'DeadLetters', {
      key,
      topic: alerts.topic,
      sources: 'the Bedrock trigger, the guard schedule and the Bedrock functions',
    }).queue;

    const placement: JobNetworkPlacement = {
      vpc: net.vpc,
      subnets: net.subnetsFor('processing').subnets,
      securityGroups: [net.securityGroups.lambda],
    };
    const code = pythonHandlersCode(path.join(__dirname, '..', '..', 'training'));
    const settings = {
      namePrefix: environmentPrefix(config),
      dataBucket: buckets.trainingData.bucket.bucketName,
      dataPrefix: layout.trainingData.prefixes.processed,
      evaluationPrefix: BEDROCK_REPORTS_PREFIX,
      // prepare writes the run's baseline profile there (<evaluationPrefix><run>/baseline.json).
      evaluationBucket: buckets.evaluation.bucket.bucketName,
      maxProvisionedModelUnits: b.maxProvisionedModelUnits,
      defaults: b.defaults,
      extraModels: b.extraModels ?? {},
      throughputGuard: {
        ...b.throughputGuard,
        namePrefix: environmentPrefix(config),
        metricNamespace: `FineTuningPlatform/${config.name}`,
        topicArn: alerts.topic.topicArn,
      },
    };
    const fn = (id: string, handler: string, description: string, timeout: Duration, extra: { memorySizeMiB?: number; ephemeralStorageMiB?: number } = {}) =>
      new PlatformFunction(this, id, {
        code,
        handler: `training.bedrock.handlers.${handler}`,
        description,
        placement,
        key,
        logRetention: retention,
        deadLetterQueue: deadLetters,
        timeout,
        reservedConcurrency: 5,
        environment: { FMFT_BEDROCK_SETTINGS: Stack.of(this).toJsonString(settings) },
        ...extra,
      });

    // Data sets of up to 20,000 records of 192,000 characters: room for the files and the validator.
    const prepare = fn('Prepare', 'prepare', `Checks a Bedrock run's input and data (${config.name})`, Duration.minutes(15), {
      memorySizeMiB: 2048,
      ephemeralStorageMiB: 10240,
    });
    buckets.trainingData.grantReadObjects(prepare.role, layout.trainingData.prefixes.processed);
    buckets.evaluation.grantWriteObjects(prepare.role, BEDROCK_REPORTS_PREFIX);

    const predictions = fn('Predictions', 'write_predictions', `Asks a Bedrock custom model the test prompts (${config.name})`, Duration.minutes(15), {
      memorySizeMiB: 1024,
      ephemeralStorageMiB: 2048,
    });
    buckets.trainingData.grantReadObjects(predictions.role, layout.trainingData.prefixes.processed);
    buckets.evaluation.grantWriteObjects(predictions.role, BEDROCK_REPORTS_PREFIX);
    this.allowInvokeCustomModels(predictions.role);
    predictions.role.allowKeyUseVia(storage.bedrockCustomModelKey, 'bedrock', ['kms:Decrypt', 'kms:DescribeKey']);

    // The evaluation job reads the predictions and writes the report beside them.
    buckets.evaluation.grantReadObjects(security.roles.processing, BEDROCK_REPORTS_PREFIX);

    // The DR stack copies every completed custom model into drRegion; it hears of them through this rule.
    if (config.disasterRecovery.replication) {
      forwardCustomizationEvents(this, 'CompletedCustomizationsToDr', { customizationRoleArn: security.roles.bedrockCustomization.role.roleArn, drRegion: config.drRegion, deadLetterQueue: deadLetters });
    }

    this.workflow = new BedrockCustomizationWorkflow(this, 'Customization', {
      stateMachineName: resourceName(config, 'bedrock-customization'),
      prepareFunction: prepare.fn,
      predictionsFunction: predictions.fn,
      customizationRole: security.roles.bedrockCustomization.role,
      customModelKey: storage.bedrockCustomModelKey,
      outputUri: buckets.modelArtifacts.bucket.s3UrlForObject(layout.modelArtifacts.prefixes.bedrockOutput),
      jobPlacement: {
        subnetIds: net.subnetsFor('training').subnetIds,
        securityGroupIds: [net.securityGroups.training.securityGroupId],
      },
      evaluation: {
        imageUri: training.jobs.processingImageUri,
        role: security.roles.processing.role,
        code: training.code.jobCode,
        bucketName: buckets.evaluation.bucket.bucketName,
        instanceType: config.training.processingInstanceType,
        placement: {
          subnetIds: net.subnetsFor('processing').subnetIds,
          securityGroupIds: [net.securityGroups.processing.securityGroupId],
        },
        key: storage.dataKey,
      },
      topic: alerts.topic,
      logKey: key,
      logRetention: retention,
      throughputWaitMinutes: b.throughputWaitMinutes,
      tags: costTags(config),
    });

    const loggingHandler = fn('InvocationLoggingHandler', 'invocation_logging_resource', `Sets Bedrock model invocation logging (${config.name})`, Duration.minutes(2));
    this.invocationLogging = new BedrockInvocationLogging(this, 'InvocationLogging', {
      bucket: storage.invocationLogsBucket,
      key,
      logGroupName: `/${environmentPrefix(config)}/bedrock/model-invocations`,
      retention,
      handler: loggingHandler,
    });

    const guardHandler = fn('ThroughputGuardHandler', 'guard_throughput', `Reports stale Bedrock provisioned throughput (${config.name})`, Duration.minutes(5));
    this.guard = new ThroughputGuard(this, 'ThroughputGuard', {
      handler: guardHandler,
      metricNamespace: settings.throughputGuard.metricNamespace,
      topic: alerts.topic,
      deadLetterQueue: deadLetters,
      deleteStale: b.throughputGuard.deleteStale,
      ownerTag: { key: OWNER_TAG_KEY, value: config.name },
    });

    if (b.trigger) {
      // The same trigger as the pipeline's: a burst of uploads to a folder gives one run once it has settled and
      // holds train.jsonl, never twice for the same data, never two runs of a folder at once.
      this.trigger = new RetrainingTrigger(this, 'DatasetTrigger', {
        target: { kind: 'stateMachine', stateMachine: this.workflow.stateMachine, inputField: 'datasetUri', requiredFile: 'train.jsonl' },
        bucket: buckets.trainingData,
        rawPrefix: b.trigger.datasetPrefix,
        quietPeriod: Duration.minutes(b.trigger.quietMinutes ?? DEFAULT_DATASET_QUIET_MINUTES),
        newDataRuleName: resourceName(config, 'bedrock-dataset-landed'),
        code,
        placement,
        key,
        logRetention: retention,
        topic: alerts.topic,
        deadLetterQueue: deadLetters,
      });
    }
    addOutputs(this, {
      CustomizationStateMachineArn: { value: this.workflow.stateMachine.stateMachineArn, description: 'Start a Bedrock customization run (aws stepfunctions start-execution)' },
    });
  }

  private allowInvokeCustomModels(role: MlServiceRole): void {
    const arn = (resource: string) => this.formatArn({ service: 'bedrock', resource, resourceName: '*' });
    role.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['bedrock:InvokeModel'], resources: [arn('provisioned-model'), arn('custom-model')] }),
    );
    const reason = 'The custom model and its provisioned throughput are created per run with generated names; the function only invokes them (no management actions)';
    acknowledgeNag(
      role,
      { id: iam5ResourceFinding(role, arn('provisioned-model')), reason },
      { id: iam5ResourceFinding(role, arn('custom-model')), reason },
    );
  }
}
