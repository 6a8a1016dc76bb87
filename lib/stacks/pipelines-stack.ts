import * as path from 'path';
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import metricsContract from '../../training/contracts/training-metrics.json';
import { costTags } from '../config/cost-tags';
import { servingImage } from '../config/serving-images';
import { EnvironmentConfig } from '../config/environment-config';
import { driftRetrainingRuleName, resourceName } from '../config/naming';
import { SERVING_MANIFEST_KEY, STORAGE_LAYOUT } from '../config/storage-layout';
import { acknowledgeNag } from '../constructs/compliance';
import { DeadLetterQueue } from '../constructs/dead-letter-queue';
import { MlBucket } from '../constructs/ml-bucket';
import { ChampionFinder, servedVersions } from '../constructs/pipelines/champion-finder';
import { RetrainingSchedule } from '../constructs/pipelines/retraining-schedule';
import { RetrainingTrigger } from '../constructs/pipelines/retraining-trigger';
import { pythonHandlersCode } from '../constructs/python-handlers-code';
import { FINE_TUNING_PARAMETER_NAMES } from '../pipeline/fine-tuning-pipeline';
import { SageMakerFineTuningPipeline } from '../constructs/sagemaker-fine-tuning-pipeline';
import { environmentKey } from './environment-key';
import { NetworkStack } from './network-stack';
import { addOutputs } from './outputs';
import { SecurityStack } from './security-stack';
import { StorageStack } from './storage-stack';
import { TrainingStack } from './training-stack';

export interface PipelinesStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
  /** The job image, code and job settings the pipeline's steps run. */
  readonly training: TrainingStack;
}

/**
 * The orchestration of fine-tuning: the SageMaker pipeline (running the training stack's image and code),
 * its failure alerts, the retraining schedule and trigger, and the function that finds the production
 * version a candidate must beat.
 */
export class PipelinesStack extends Stack {
  readonly fineTuning: SageMakerFineTuningPipeline;
  /** Starts the pipeline on `training.retraining.schedule`, when configured. */
  readonly retraining?: RetrainingSchedule;
  /** Starts the pipeline on a dataset's new data or on drift, when `training.retraining` asks for either. */
  readonly retrainingTrigger?: RetrainingTrigger;
  /** Finds the production version the pipeline compares each candidate with (`qualityGate.againstProduction`). */
  readonly championFinder?: ChampionFinder;

  constructor(scope: Construct, id: string, props: PipelinesStackProps) {
    super(scope, id, props);
    const { config, network, storage, security, training } = props;
    const jobs = training.jobs;
    const { roles } = security;
    const { buckets } = storage;
    const layout = STORAGE_LAYOUT;
    const net = network.network;
    const t = config.training;

    // The execution reads evaluation.json for the quality gate, and creates grants on the data key for
    // the jobs' encrypted volumes.
    buckets.evaluation.grantReadObjects(roles.pipeline, layout.evaluation.prefixes.reports);
    roles.pipeline.allowKeyUseVia(storage.dataKey, 'sagemaker', ['kms:CreateGrant', 'kms:DescribeKey']);

    const uri = (bucket: MlBucket, prefix: string) => bucket.bucket.s3UrlForObject(prefix);
    const trainingDir = path.join(__dirname, '..', '..', 'training');
    const baseModel = t.baseModels[0];
    const handlersCode = pythonHandlersCode(trainingDir);
    const lambdaPlacement = { vpc: net.vpc, subnets: net.subnetsFor('processing').subnets, securityGroups: [net.securityGroups.lambda] };
    const functionsKey = environmentKey(this, 'FunctionsKey', config, 'pipeline-functions', 'Logs and environment of the pipeline\'s functions', {
      allowCloudWatchLogs: true,
    }).key;
    const modelPackageGroupName = SageMakerFineTuningPipeline.modelPackageGroupNameFor(resourceName(config, 'fine-tuning'));
    const gate = t.qualityGate;
    if (gate.againstProduction) {
      this.championFinder = new ChampionFinder(this, 'ChampionFinder', {
        code: handlersCode,
        placement: lambdaPlacement,
        key: functionsKey,
        logRetention: config.monitoring.logRetentionDays as logs.RetentionDays,
        deadLetterQueue: security.alerts.undeliveredAlerts,
        modelPackageGroupName,
        functionName: resourceName(config, 'find-production-version'),
        servedModelPackageArns: servedVersions(config),
        // What the staged promotion put in production, when it did (see the registry stack).
        servingManifest: config.serving.promotion ? { bucket: storage.buckets.modelArtifacts, key: SERVING_MANIFEST_KEY } : undefined,
      });
      this.championFinder.grantInvoke(roles.pipeline);
    }

    this.fineTuning = new SageMakerFineTuningPipeline(this, 'FineTuningPipeline', {
      pipelineName: resourceName(config, 'fine-tuning'),
      pipelineRole: roles.pipeline,
      trainingRole: roles.training,
      processingRole: roles.processing,
      code: training.code,
      failureTopic: security.alerts.topic,
      failureDeadLetterQueue: security.alerts.undeliveredAlerts,
      retainModelPackageGroup: config.storage.retainOnDelete,
      definition: {
        trainingImageUri: jobs.trainingImageUri,
        processingImageUri: jobs.processingImageUri,
        // Registered versions name the serving container the endpoints stack runs them in.
        inference: { imageUri: config.serving.imageUri ?? servingImage(config.serving.container, this.region), instanceTypes: [t.endpointInstanceType] },
        trainingNetwork: {
          subnetIds: net.subnetsFor('training').subnetIds,
          securityGroupIds: [net.securityGroups.training.securityGroupId],
        },
        processingNetwork: {
          subnetIds: net.subnetsFor('processing').subnetIds,
          securityGroupIds: [net.securityGroups.processing.securityGroupId],
        },
        volumeKmsKeyId: storage.dataKey.keyArn,
        outputKmsKeyId: storage.dataKey.keyArn,
        storage: {
          rawData: uri(buckets.trainingData, layout.trainingData.prefixes.raw),
          processedData: uri(buckets.trainingData, layout.trainingData.prefixes.processed),
          checkpoints: uri(buckets.modelArtifacts, layout.modelArtifacts.prefixes.checkpoints),
          finalModels: uri(buckets.modelArtifacts, layout.modelArtifacts.prefixes.final),
          evaluationReports: uri(buckets.evaluation, layout.evaluation.prefixes.reports),
        },
        defaults: {
          baseModelUri: uri(buckets.modelArtifacts, `${layout.modelArtifacts.prefixes.base}${baseModel}/`),
          instanceType: jobs.trainingInstanceType,
        },
        processingInstanceType: jobs.processingInstanceType,
        trainingMaxRuntimeSeconds: jobs.maxRuntimeSeconds,
        spot: jobs.spot,
        metricDefinitions: metricsContract.metrics.map((m) => ({ name: m.name, regex: m.regex })),
        evaluation: t.qualityGate,
        champion:
          gate.againstProduction && this.championFinder
            ? { functionArn: this.championFinder.handler.fn.functionArn, ...gate.againstProduction }
            : undefined,
        explain: t.explain,
        tuning: jobs.tuning,
        // Every job of a run carries these, the pipeline's name and the execution id (cost allocation).
        costTags: costTags(config),
      },
    });
    const r = t.retraining;
    if (r) {
      const key = environmentKey(this, 'TriggersKey', config, 'pipeline-triggers', 'Retraining requests and their dead letters', {
        allowCloudWatchLogs: true,
      }).key;
      const deadLetters = new DeadLetterQueue(this, 'TriggerDeadLetters', {
        key,
        topic: security.alerts.topic,
        sources: 'the retraining schedule and trigger',
      }).queue;
      const triggered = r.onNewData !== undefined || r.onDrift !== undefined;
      if (!triggered) {
        // With the trigger, the request queue's redrive policy names this queue, which the rule does see.
        acknowledgeNag(deadLetters, {
          id: 'AwsSolutions::AwsSolutions-SQS3',
          reason: "This queue is the dead-letter queue of the retraining schedule (the schedule target's DeadLetterConfig), a use the rule does not look for",
        });
      }
      if (r.schedule) {
        this.retraining = new RetrainingSchedule(this, 'RetrainingSchedule', {
          scheduleName: resourceName(config, 'retraining'),
          expression: r.schedule,
          pipelineName: this.fineTuning.pipeline.pipelineName!,
          pipelineParameterNames: this.fineTuning.parameterNames,
          parameters: r.parameters,
          deadLetterQueue: deadLetters,
        });
      }
      if (triggered) {
        this.retrainingTrigger = new RetrainingTrigger(this, 'RetrainingTrigger', {
          target: {
            kind: 'pipeline',
            pipelineName: this.fineTuning.pipeline.pipelineName!,
            parameterNames: this.fineTuning.parameterNames,
            inputParameterName: FINE_TUNING_PARAMETER_NAMES.inputDataUri,
          },
          bucket: buckets.trainingData,
          rawPrefix: layout.trainingData.prefixes.raw,
          datasets: r.datasets ?? {},
          quietPeriod: r.onNewData ? Duration.minutes(r.onNewData.quietMinutes) : undefined,
          newDataRuleName: resourceName(config, 'new-training-data'),
          driftRuleName: r.onDrift ? driftRetrainingRuleName(config) : undefined,
          maxWait: r.maxWaitHours === undefined ? undefined : Duration.hours(r.maxWaitHours),
          code: handlersCode,
          placement: lambdaPlacement,
          key,
          logRetention: config.monitoring.logRetentionDays as logs.RetentionDays,
          topic: security.alerts.topic,
          deadLetterQueue: deadLetters,
        });
      }
    }
    addOutputs(this, {
      PipelineName: { value: this.fineTuning.pipeline.pipelineName, description: 'The fine-tuning pipeline (aws sagemaker start-pipeline-execution --pipeline-name)' },
      ModelPackageGroupName: { value: this.fineTuning.modelPackageGroup.modelPackageGroupName!, description: 'Registered versions wait here for approval' },
      ...(this.retrainingTrigger
        ? {
            RetrainingTriggerFunctionName: {
              value: this.retrainingTrigger.handler.fn.functionName,
              description: 'Starts runs on new data and drift; its FMFT_RETRAIN_SETTINGS feed python -m training.triggers.retrain',
            },
          }
        : {}),
    });
  }
}
