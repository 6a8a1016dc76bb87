import * as path from 'path';
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { COST_TAG_KEYS, costTags } from '../config/cost-tags';
import { EnvironmentConfig } from '../config/environment-config';
import { modelMonitorAnalyzerImage } from '../config/model-monitor-images';
import { platformMetricNamespace } from '../config/monitoring-metrics';
import { dashboardName, driftRetrainingRuleName, environmentPrefix, resourceName } from '../config/naming';
import { SERVING_MANIFEST_KEY, STORAGE_LAYOUT } from '../config/storage-layout';
import { INVOCATION_LOG_PREFIXES } from '../constructs/bedrock-invocation-logging';
import { acknowledgeNag, iam5ResourceFinding } from '../constructs/compliance';
import { DeadLetterQueue } from '../constructs/dead-letter-queue';
import { IdleEndpointReaper } from '../constructs/idle-endpoint-reaper';
import { MlServiceRole } from '../constructs/ml-service-role';
import { CaptureMonitor } from '../constructs/monitoring/capture-monitor';
import { DataQualitySchedule } from '../constructs/monitoring/data-quality-schedule';
import { MonitoringDashboard } from '../constructs/monitoring/monitoring-dashboard';
import { PredictionAudit } from '../constructs/monitoring/prediction-audit';
import { BackupJobAlerts } from '../constructs/bucket-backup';
import { ReplicationWatch } from '../constructs/replication-watch';
import { requestTarget, RetrainingTrigger } from '../constructs/pipelines/retraining-trigger';
import { PlatformFunction } from '../constructs/platform-function';
import { pythonHandlersCode } from '../constructs/python-handlers-code';
import { jobCodeInputs } from '../pipeline/job-code';
import { EndpointsStack } from './endpoints-stack';
import { environmentKey } from './environment-key';
import { NetworkStack } from './network-stack';
import { BEDROCK_REPORTS_PREFIX } from './bedrock-stack';
import { addOutputs } from './outputs';
import { PipelinesStack } from './pipelines-stack';
import { TrainingStack } from './training-stack';
import { SecurityStack } from './security-stack';
import { StorageStack } from './storage-stack';

export interface MonitoringStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
  /** Supplies the monitor job's image and code. */
  /** The retraining trigger drift alarms may ask. */
  readonly pipelines: PipelinesStack;
  /** The job image and code the monitor's jobs run. */
  readonly training: TrainingStack;
  /** What is served; absent: nothing yet, and the monitor reports nothing. */
  readonly endpoints?: EndpointsStack;
}

/**
 * Watches whatever the environment serves: the capture monitor (schedule, state machine, network-isolated
 * monitor jobs, metrics and alarms) and one dashboard. Present in every environment.
 */
export class MonitoringStack extends Stack {
  readonly monitor: CaptureMonitor;
  /** Drift alarms that start a retraining run (`training.retraining.onDrift`), when a served variant has them. */
  readonly driftRetraining?: events.Rule;
  readonly dashboard: MonitoringDashboard;
  /** Every captured prediction and Bedrock invocation, queryable in Athena. */
  readonly audit: PredictionAudit;
  /** Model Monitor data quality schedules, one per served endpoint, when monitoring.modelMonitor.enabled. */
  readonly dataQualitySchedules: readonly DataQualitySchedule[];
  /** Alarms and dashboard of the replication to drRegion, when the environment replicates. */
  readonly replication?: ReplicationWatch;
  /** Failed backup and copy jobs of the storage stack's vault, when the environment backs up. */
  readonly backupAlerts?: BackupJobAlerts;
  /** The role of the monitor jobs: reads capture and baselines, writes results, nothing else. */
  readonly jobRole: MlServiceRole;
  /** Hourly look for endpoints nobody calls, when `cost.idleEndpoints` is set. */
  readonly idleEndpointReaper?: IdleEndpointReaper;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    const { config, network, storage, security, pipelines, training } = props;
    const m = config.monitoring;
    const layout = STORAGE_LAYOUT;
    const { buckets } = storage;
    const net = network.network;
    const alerts = security.alerts;
    const retention = m.logRetentionDays as logs.RetentionDays;
    const targets = props.endpoints?.monitorTargets ?? [];
    const jobNamePrefix = environmentPrefix(config);
    const outputPrefix = layout.evaluation.prefixes.monitoring;
    // The A/B endpoint: its variants carry a model version (the shared endpoint's components do not).
    const abEndpoints = [...new Set(targets.filter((t) => t.modelPackageArn).map((t) => t.endpointName))];
    // The staged promotion changes the version an A/B variant serves at run time and records it in the
    // serving manifest; the planner takes each variant's version from there, not from this config.
    const servingManifest = config.serving.promotion && abEndpoints.length === 1 ? { endpointName: abEndpoints[0] } : undefined;

    const key = environmentKey(this, 'MonitoringKey', config, 'monitoring', 'Capture monitor logs and dead letters', { allowCloudWatchLogs: true }).key;
    const idleEndpoints = config.cost.idleEndpoints;
    const deadLetters = new DeadLetterQueue(this, 'DeadLetters', {
      key,
      topic: alerts.topic,
      sources: `the capture monitor schedule and planner${idleEndpoints ? ', and the idle-endpoint reaper' : ''}`,
    }).queue;

    // The monitor job: SageMaker assumes it for this account and region's jobs only (confused deputy).
    this.jobRole = new MlServiceRole(this, 'MonitorJobRole', {
      description: `Capture monitor processing jobs of ${config.name}`,
      trust: { service: 'sagemaker.amazonaws.com', sourceArnPattern: this.formatArn({ service: 'sagemaker', resource: '*' }) },
    });
    buckets.modelArtifacts.grantReadObjects(this.jobRole, layout.modelArtifacts.prefixes.dataCapture);
    // Baselines are written by data preparation beside the splits.
    buckets.trainingData.grantReadObjects(this.jobRole, layout.trainingData.prefixes.processed);
    // Writes its results there, and reads the canary's answers and the planner's manifests put there first.
    buckets.evaluation.grantReadWriteObjects(this.jobRole, outputPrefix);
    if (m.groundTruth) buckets.evaluation.grantReadObjects(this.jobRole, layout.evaluation.prefixes.groundTruth);
    this.jobRole.allowSageMakerLogs('ProcessingJobs');
    this.jobRole.allowMetrics('/aws/sagemaker/ProcessingJobs');
    this.jobRole.allowImagePull(security.repository.repository);
    const jobPlacement = { vpc: net.vpc, subnets: net.subnetsFor('processing').subnets, securityGroups: [net.securityGroups.processing] };
    this.jobRole.allowVpcPlacement(jobPlacement);

    // Bedrock provisioned models of this environment are found at run time (the customization workflow
    // creates them); their invocation logs and the baselines of their runs are read like the endpoints' capture.
    const net0 = config.network;
    const bedrockReachable = net0.natGateways > 0 || net0.interfaceEndpoints.includes('bedrock');
    const invocationLogsPrefix = `${INVOCATION_LOG_PREFIXES.records}AWSLogs/${this.account}/BedrockModelInvocationLogs/${this.region}/`;
    if (bedrockReachable) {
      storage.invocationLogsBucket.grantReadObjects(this.jobRole, INVOCATION_LOG_PREFIXES.records);
      buckets.evaluation.grantReadObjects(this.jobRole, BEDROCK_REPORTS_PREFIX);
    }

    const code = training.code.jobCode;
    const handlersCode = pythonHandlersCode(path.join(__dirname, '..', '..', 'training'));
    const lambdaPlacement = { vpc: net.vpc, subnets: net.subnetsFor('processing').subnets, securityGroups: [net.securityGroups.lambda] };
    const planner = new PlatformFunction(this, 'Planner', {
      code: handlersCode,
      handler: 'training.monitor.plan.handler',
      description: `Plans a capture monitor run: window, hours with capture, baselines (${config.name})`,
      placement: lambdaPlacement,
      key,
      logRetention: retention,
      deadLetterQueue: deadLetters,
      timeout: Duration.minutes(2),
      reservedConcurrency: 2,
      environment: {
        FMFT_MONITOR_SETTINGS: this.toJsonString({
          captureUri: buckets.modelArtifacts.bucket.s3UrlForObject(layout.modelArtifacts.prefixes.dataCapture),
          outputUri: buckets.evaluation.bucket.s3UrlForObject(outputPrefix),
          intervalHours: m.intervalHours,
          jobNamePrefix,
          codeInputs: jobCodeInputs(code),
          ...(servingManifest
            ? { manifestBucket: buckets.modelArtifacts.bucket.bucketName, manifestKey: SERVING_MANIFEST_KEY, manifestEndpointName: servingManifest.endpointName }
            : {}),
          bedrock: bedrockReachable
            ? {
                // The customization workflow names its runs (custom models, throughput) with this prefix.
                namePrefix: environmentPrefix(config),
                invocationLogsUri: storage.invocationLogsBucket.bucket.s3UrlForObject(invocationLogsPrefix),
                reportsUri: buckets.evaluation.bucket.s3UrlForObject(BEDROCK_REPORTS_PREFIX),
              }
            : null,
          groundTruth: m.groundTruth
            ? { uri: buckets.evaluation.bucket.s3UrlForObject(layout.evaluation.prefixes.groundTruth), task: m.groundTruth.task, lookbackHours: m.groundTruth.lookbackHours }
            : null,
          canary: m.canary
            ? {
                records: m.canary.records,
                task: m.canary.task,
                goldenSetUri: m.canary.goldenSetKey ? buckets.trainingData.bucket.s3UrlForObject(m.canary.goldenSetKey) : null,
              }
            : null,
        }),
      },
    });
    buckets.modelArtifacts.grantListObjects(planner.role, layout.modelArtifacts.prefixes.dataCapture);
    // The planner writes each run's input manifests (capture, ground truth) under the run's results.
    buckets.evaluation.grantWriteObjects(planner.role, outputPrefix);
    if (m.groundTruth) buckets.evaluation.grantListObjects(planner.role, layout.evaluation.prefixes.groundTruth);
    if (bedrockReachable) {
      storage.invocationLogsBucket.grantListObjects(planner.role, INVOCATION_LOG_PREFIXES.records);
      // Whether a run's baseline exists, and (for the canary) the test split it names.
      if (m.canary) buckets.evaluation.grantReadObjects(planner.role, BEDROCK_REPORTS_PREFIX);
      else buckets.evaluation.grantListObjects(planner.role, BEDROCK_REPORTS_PREFIX);
      planner.role.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['bedrock:ListProvisionedModelThroughputs'], resources: ['*'] }),
      );
      acknowledgeNag(planner.role, {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'ListProvisionedModelThroughputs has no resource-level permissions; the planner keeps only throughput named with this environment\'s prefix',
      });
    }
    // The served versions' baselines: the config's, and with the serving manifest any version of the group the
    // promotion may have put in production since.
    const packages = [...new Set(targets.flatMap((t) => (t.modelPackageArn ? [t.modelPackageArn] : [])))];
    if (servingManifest) {
      buckets.modelArtifacts.grantReadObjects(planner.role, layout.modelArtifacts.prefixes.servingManifests);
      const group = pipelines.fineTuning.modelPackageGroup.modelPackageGroupName!;
      const versions = this.formatArn({ service: 'sagemaker', resource: 'model-package', resourceName: `${group.toLowerCase()}/*` });
      packages.push(versions);
      acknowledgeNag(planner.role, {
        id: iam5ResourceFinding(planner.role, versions),
        reason: "Promoted versions are numbered as they are registered; the planner describes only this group's (model-package/<group>/*) for their baselines",
      });
    }
    if (packages.length) {
      planner.role.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sagemaker:DescribeModelPackage'], resources: packages }),
      );
    }

    // The canary calls the served variants (through the sagemaker-runtime interface endpoint), reads the golden
    // set (the version's test split beside its baseline, or the configured key) and writes the answers where
    // the planner put the job's canary input.
    let canary: PlatformFunction | undefined;
    if (m.canary) {
      canary = new PlatformFunction(this, 'Canary', {
        code: handlersCode,
        handler: 'training.monitor.canary.handler',
        description: `Asks each served variant the golden prompts for the quality canary (${config.name})`,
        placement: lambdaPlacement,
        key,
        logRetention: retention,
        deadLetterQueue: deadLetters,
        timeout: Duration.minutes(15),
        memorySizeMiB: 1024,
        reservedConcurrency: 5,
      });
      buckets.trainingData.grantReadObjects(canary.role, m.canary.goldenSetKey ?? layout.trainingData.prefixes.processed);
      buckets.evaluation.grantWriteObjects(canary.role, outputPrefix);
      if (bedrockReachable) {
        // Bedrock provisioned models of this environment are asked through Converse (bedrock:InvokeModel).
        const arn = (resource: string) => this.formatArn({ service: 'bedrock', resource, resourceName: '*' });
        canary.role.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['bedrock:InvokeModel'], resources: [arn('provisioned-model'), arn('custom-model')] }),
        );
        canary.role.allowKeyUseVia(storage.bedrockCustomModelKey, 'bedrock', ['kms:Decrypt', 'kms:DescribeKey']);
        const reason = 'Provisioned throughput and custom models are created per customization run with generated names; the canary only invokes them';
        acknowledgeNag(
          canary.role,
          { id: iam5ResourceFinding(canary.role, arn('provisioned-model')), reason },
          { id: iam5ResourceFinding(canary.role, arn('custom-model')), reason },
        );
      }
      const endpoints = [...new Set(targets.filter((t) => t.modelPackageArn).map((t) => t.endpointName))];
      if (endpoints.length) {
        canary.role.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['sagemaker:InvokeEndpoint'],
            resources: endpoints.map((e) => this.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: e.toLowerCase() })),
          }),
        );
      }
    }

    this.monitor = new CaptureMonitor(this, 'CaptureMonitor', {
      stateMachineName: resourceName(config, 'capture-monitor'),
      jobNamePrefix,
      planFunction: planner.fn,
      targets,
      intervalHours: m.intervalHours,
      job: {
        imageUri: training.jobs.processingImageUri,
        role: this.jobRole.role,
        code,
        instanceType: m.instanceType,
        placement: {
          subnetIds: net.subnetsFor('processing').subnetIds,
          securityGroupIds: [net.securityGroups.processing.securityGroupId],
        },
        key: storage.dataKey,
      },
      outputBucket: buckets.evaluation,
      outputPrefix,
      answersAreJson: m.answersAreJson,
      watchesBedrock: bedrockReachable,
      groundTruth: m.groundTruth ? { task: m.groundTruth.task } : undefined,
      canary: canary && m.canary ? { function: canary.fn, task: m.canary.task, maxNewTokens: m.canary.maxNewTokens, container: config.serving.container } : undefined,
      metricNamespace: platformMetricNamespace(config.name),
      thresholds: m.thresholds,
      topic: alerts.topic,
      deadLetterQueue: deadLetters,
      logKey: key,
      logRetention: retention,
      tags: costTags(config),
    });
    const drift = config.training.retraining?.onDrift;
    if (drift && pipelines.retrainingTrigger) this.driftRetraining = this.addDriftRetraining(config, drift, pipelines.retrainingTrigger, deadLetters);
    this.dashboard = new MonitoringDashboard(this, 'Dashboard', {
      dashboardName: dashboardName(resourceName(config, 'monitoring'), this.region),
      monitor: this.monitor,
      targets,
      watchesBedrock: bedrockReachable,
    });
    // Optional, for accounts that still have Model Monitor: the same role, subnets and key as our monitor.
    const analyzerImage = modelMonitorAnalyzerImage(this.region);
    this.dataQualitySchedules =
      m.modelMonitor.enabled && analyzerImage
        ? [...new Set(targets.map((t) => t.endpointName))].map(
            (endpointName) =>
              new DataQualitySchedule(this, `DataQuality-${endpointName}`, {
                endpointName,
                analyzerImageUri: analyzerImage,
                role: this.jobRole.role,
                outputUri: buckets.evaluation.bucket.s3UrlForObject(`${outputPrefix}model-monitor/${endpointName}/`),
                instanceType: m.instanceType,
                placement: { subnetIds: net.subnetsFor('processing').subnetIds, securityGroupIds: [net.securityGroups.processing.securityGroupId] },
                key: storage.dataKey,
              }),
          )
        : [];

    // Query results are copies of prompts and answers: encrypted with the invocation-log key, kept briefly.
    this.audit = new PredictionAudit(this, 'PredictionAudit', {
      databaseName: resourceName(config, 'predictions').replace(/-/g, '_'),
      workGroupName: resourceName(config, 'predictions'),
      dataCaptureBucket: buckets.modelArtifacts,
      invocationLogsBucket: storage.invocationLogsBucket,
      encryptionKey: storage.invocationLogsKey,
      accessLogsBucket: storage.accessLogsBucket,
      resultsBucketName: `${resourceName(config, 'query-results')}-${this.account}-${this.region}`,
      projectionDays: m.captureRetentionDays,
      retainOnDelete: config.storage.retainOnDelete,
    });
    // Endpoints bill by the hour whether called or not: the environment's idle ones are deleted or reported.
    this.idleEndpointReaper = idleEndpoints
      ? new IdleEndpointReaper(this, 'IdleEndpointReaper', {
          code: handlersCode,
          placement: lambdaPlacement,
          key,
          logRetention: retention,
          deadLetterQueue: deadLetters,
          topic: alerts.topic,
          environmentName: config.name,
          namePrefix: `${environmentPrefix(config)}-`,
          idleHours: idleEndpoints.idleHours,
          action: idleEndpoints.action,
          ownerTag: { key: COST_TAG_KEYS.environment, value: config.name },
        })
      : undefined;
    // The RPO of the replicas in drRegion (the DR stack): latency above the objective, failed operations.
    this.replication = storage.replicated.length
      ? new ReplicationWatch(this, 'ReplicationWatch', {
          buckets: storage.replicated,
          alarmNamePrefix: environmentPrefix(config),
          dashboardName: dashboardName(resourceName(config, 'replication'), this.region),
          topic: alerts.topic,
        })
      : undefined;
    // The RPO of the backups: a failed backup or DR copy is as urgent as a late replica.
    this.backupAlerts = storage.backup
      ? new BackupJobAlerts(this, 'BackupJobAlerts', { vaultName: storage.backup.vaultName, topic: alerts.topic, deadLetterQueue: alerts.undeliveredAlerts })
      : undefined;
    addOutputs(this, {
      CaptureMonitorStateMachineArn: { value: this.monitor.stateMachine.stateMachineArn, description: 'Run the capture monitor now (aws stepfunctions start-execution)' },
      PredictionAuditWorkGroup: { value: this.audit.workGroupName, description: 'Athena workgroup for queries over captured predictions (enforced settings, KMS)' },
      PredictionAuditDatabase: { value: this.audit.databaseName, description: 'Glue database with the data_capture and bedrock_invocations tables' },
      MonitoringDashboardName: { value: this.dashboard.dashboard.dashboardName, description: 'Drift, answer health, traffic and latency per served variant' },
      ...(this.idleEndpointReaper
        ? {
            IdleEndpointReaperFunctionName: {
              value: this.idleEndpointReaper.handler.fn.functionName,
              description: 'The idle-endpoint reaper: run it now with aws lambda invoke; python -m training.cost.idle_endpoints --dry-run shows what it would do',
            },
          }
        : {}),
      ...(this.replication
        ? { ReplicationDashboardName: { value: this.replication.dashboard.dashboardName, description: `Replication to ${config.drRegion}: latency against the 15-minute objective, pending and failed operations` } }
        : {}),
    });
  }

  /**
   * Opt-in: when an alarm of a configured metric of any served variant enters ALARM, ask the retraining
   * trigger (another stack's queue, imported: the queue admits this rule by name) for a run of the dataset.
   */
  private addDriftRetraining(
    config: EnvironmentConfig,
    drift: NonNullable<NonNullable<EnvironmentConfig['training']['retraining']>['onDrift']>,
    trigger: RetrainingTrigger,
    deadLetters: sqs.IQueue,
  ): events.Rule | undefined {
    // Keys are <endpoint>/<variant>/<metric>; Bedrock's (two parts) retrain through their own workflow.
    const alarms = [...this.monitor.alarms]
      .filter(([key]) => key.split('/').length === 3 && drift.metrics.includes(key.split('/')[2]))
      .map(([, alarm]) => alarm);
    if (alarms.length === 0) return undefined;
    const rule = new events.Rule(this, 'DriftRetraining', {
      ruleName: driftRetrainingRuleName(config),
      description: `Drift alarms (${drift.metrics.join(', ')}) ask for a run of ${drift.dataset}`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: alarms.map((a) => a.alarmArn),
        detail: { state: { value: ['ALARM'] } },
      },
    });
    rule.addTarget(
      requestTarget(
        trigger.queue.queueArn,
        deadLetters,
        events.RuleTargetInput.fromObject({
          trigger: 'drift',
          dataset: drift.dataset,
          alarm: events.EventField.fromPath('$.detail.alarmName'),
          time: events.EventField.time,
        }),
      ),
    );
    return rule;
  }
}
