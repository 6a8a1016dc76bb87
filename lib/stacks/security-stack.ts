import { ArnFormat, Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { environmentPrefix, resourceName } from '../config/naming';
import { STORAGE_LAYOUT } from '../config/storage-layout';
import { AuditTrail } from '../constructs/audit-trail';
import { acknowledgeNag, iam5ResourceFinding } from '../constructs/compliance';
import { ContainerRepository } from '../constructs/container-repository';
import { MlServiceRole } from '../constructs/ml-service-role';
import { PlatformAlerts } from '../constructs/platform-alerts';
import { NetworkStack } from './network-stack';
import { StorageStack } from './storage-stack';
import { environmentKey } from './environment-key';
import { addOutputs } from './outputs';

export interface SecurityStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  /** The environment's monthly cost budget; false in a failover deployment (the primary's, account-wide, still counts). @default true */
  readonly budget?: boolean;
}

/** The roles jobs run as, and what they may touch. */
export interface PlatformRoles {
  /** SageMaker training jobs: read processed data, write checkpoints and final models. */
  readonly training: MlServiceRole;
  /** SageMaker processing jobs: data preparation and evaluation. */
  readonly processing: MlServiceRole;
  /** SageMaker endpoints (the model execution role used when deploying): read final models. */
  readonly deployment: MlServiceRole;
  /** SageMaker pipeline executions: start the jobs above and register models. */
  readonly pipeline: MlServiceRole;
  /** Bedrock model customization jobs. */
  readonly bedrockCustomization: MlServiceRole;
}

/**
 * Who may do what: least-privilege roles for every job type, the audit trail, the image repository, and the
 * alert topic with the cost budget.
 */
export class SecurityStack extends Stack {
  readonly roles: PlatformRoles;
  readonly repository: ContainerRepository;
  readonly alerts: PlatformAlerts;
  readonly auditTrail: AuditTrail;

  constructor(scope: Construct, id: string, props: SecurityStackProps) {
    super(scope, id, props);
    const { config, network, storage } = props;
    const { buckets } = storage;
    const layout = STORAGE_LAYOUT;
    const auditKey = environmentKey(this, 'AuditKey', config, 'audit', 'CloudTrail files and events', { allowCloudWatchLogs: true });
    this.auditTrail = new AuditTrail(this, 'AuditTrail', {
      trailName: resourceName(config, 'audit'),
      key: auditKey.key,
      accessLogsBucket: storage.accessLogsBucket,
      dataEventBuckets: Object.values(buckets).map((b) => b.bucket),
      logRetentionDays: config.audit.trailLogRetentionDays,
      noncurrentVersionExpirationDays: config.storage.auditLogExpirationDays,
      retainOnDelete: config.storage.retainOnDelete,
    });

    const servicesKey = environmentKey(this, 'PlatformServicesKey', config, 'platform-services', 'Container images and alert messages');
    this.repository = new ContainerRepository(this, 'ImageRepository', {
      repositoryName: `${environmentPrefix(config)}/images`,
      encryptionKey: servicesKey.key,
      retainOnDelete: config.storage.retainOnDelete,
    });
    this.alerts = new PlatformAlerts(this, 'Alerts', {
      key: servicesKey.key,
      email: config.alarmEmail,
      budgetName: props.budget === false ? undefined : resourceName(config, 'monthly-cost'),
      monthlyBudgetUsd: config.monthlyBudgetUsd,
      budgetAlerts: config.cost.budgetAlerts,
    });

    // SageMaker assumes these roles for jobs, tuning, pipelines and endpoints of this account and region only
    // (confused-deputy conditions; SageMaker's "Cross-service confused deputy prevention" page).
    const sageMakerTrust = { service: 'sagemaker.amazonaws.com', sourceArnPattern: this.formatArn({ service: 'sagemaker', resource: '*' }) };
    const sageMakerRole = (id: string, description: string) => new MlServiceRole(this, id, { trust: sageMakerTrust, description });
    const net = network.network;

    const training = sageMakerRole('TrainingRole', `SageMaker training jobs of ${config.name}`);
    buckets.trainingData.grantReadObjects(training, layout.trainingData.prefixes.processed);
    buckets.modelArtifacts.grantReadWriteObjects(training, layout.modelArtifacts.prefixes.checkpoints);
    buckets.modelArtifacts.grantWriteObjects(training, layout.modelArtifacts.prefixes.final);
    training.allowSageMakerLogs('TrainingJobs');
    training.allowMetrics('/aws/sagemaker/TrainingJobs');
    training.allowImagePull(this.repository.repository);
    training.allowVpcPlacement({ vpc: net.vpc, subnets: net.subnetsFor('training').subnets, securityGroups: [net.securityGroups.training] });

    const processing = sageMakerRole('ProcessingRole', `SageMaker processing jobs (data preparation, evaluation) of ${config.name}`);
    buckets.trainingData.grantReadObjects(processing, layout.trainingData.prefixes.raw);
    buckets.trainingData.grantReadWriteObjects(processing, layout.trainingData.prefixes.processed);
    buckets.modelArtifacts.grantReadObjects(processing, layout.modelArtifacts.prefixes.final);
    buckets.evaluation.grantWriteObjects(processing, layout.evaluation.prefixes.reports);
    processing.allowSageMakerLogs('ProcessingJobs');
    processing.allowMetrics('/aws/sagemaker/ProcessingJobs');
    processing.allowImagePull(this.repository.repository);
    processing.allowVpcPlacement({ vpc: net.vpc, subnets: net.subnetsFor('processing').subnets, securityGroups: [net.securityGroups.processing] });

    const deployment = sageMakerRole('DeploymentRole', `SageMaker endpoints (model execution) of ${config.name}`);
    buckets.modelArtifacts.grantReadObjects(deployment, layout.modelArtifacts.prefixes.final);
    // Endpoints upload captured requests and responses with their execution role.
    buckets.modelArtifacts.grantWriteObjects(deployment, layout.modelArtifacts.prefixes.dataCapture);
    deployment.allowSageMakerLogs('Endpoints');
    deployment.allowMetrics('/aws/sagemaker/Endpoints');
    deployment.allowImagePull(this.repository.repository);
    deployment.allowVpcPlacement({ vpc: net.vpc, subnets: net.subnetsFor('inference').subnets, securityGroups: [net.securityGroups.inference] });

    const pipeline = sageMakerRole('PipelineRole', `SageMaker pipeline executions of ${config.name}`);
    this.allowPipelineJobs(pipeline, config);
    pipeline.allowPassRole('sagemaker.amazonaws.com', training.role, processing.role);

    const bedrockCustomization = new MlServiceRole(this, 'BedrockCustomizationRole', {
      description: `Bedrock model customization jobs of ${config.name}`,
      trust: {
        service: 'bedrock.amazonaws.com',
        sourceArnPattern: this.formatArn({ service: 'bedrock', resource: 'model-customization-job', resourceName: '*' }),
      },
    });
    buckets.trainingData.grantReadObjects(bedrockCustomization, layout.trainingData.prefixes.processed);
    buckets.modelArtifacts.grantWriteObjects(bedrockCustomization, layout.modelArtifacts.prefixes.bedrockOutput);
    bedrockCustomization.allowKeyUseVia(storage.bedrockCustomModelKey, 'bedrock', [
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'kms:DescribeKey',
      'kms:CreateGrant',
    ]);
    bedrockCustomization.allowVpcPlacement({
      vpc: net.vpc,
      subnets: net.subnetsFor('training').subnets,
      securityGroups: [net.securityGroups.training],
    });

    this.roles = { training, processing, deployment, pipeline, bedrockCustomization };
    addOutputs(this, {
      AlertsTopicArn: { value: this.alerts.topic.topicArn, description: 'Failures, budget and guard alerts (subscribe more addresses here)' },
    });
  }

  /**
   * Start, watch and stop the jobs a pipeline runs (SageMaker names them `pipelines-<execution>-...`) and
   * register models in this environment's model package groups.
   */
  private allowPipelineJobs(pipeline: MlServiceRole, config: EnvironmentConfig): void {
    const arn = (resource: string, resourceName: string) => this.formatArn({ service: 'sagemaker', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const groupPattern = `${environmentPrefix(config)}-*`;
    pipeline.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'sagemaker:CreateProcessingJob',
          'sagemaker:DescribeProcessingJob',
          'sagemaker:StopProcessingJob',
          'sagemaker:CreateTrainingJob',
          'sagemaker:DescribeTrainingJob',
          'sagemaker:StopTrainingJob',
          'sagemaker:CreateHyperParameterTuningJob',
          'sagemaker:DescribeHyperParameterTuningJob',
          'sagemaker:StopHyperParameterTuningJob',
          'sagemaker:AddTags',
        ],
        resources: [
          arn('processing-job', 'pipelines-*'),
          arn('training-job', 'pipelines-*'),
          arn('hyper-parameter-tuning-job', 'pipelines-*'),
        ],
      }),
    );
    pipeline.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sagemaker:CreateModelPackage', 'sagemaker:DescribeModelPackage', 'sagemaker:AddTags'],
        resources: [arn('model-package-group', groupPattern), arn('model-package', `${groupPattern}/*`)],
      }),
    );
    const wildcardResources: Array<[string, string]> = [
      [arn('processing-job', 'pipelines-*'), 'pipeline-started processing jobs'],
      [arn('training-job', 'pipelines-*'), 'pipeline-started training jobs'],
      [arn('hyper-parameter-tuning-job', 'pipelines-*'), 'pipeline-started tuning jobs'],
      [arn('model-package-group', groupPattern), `the ${config.name} environment's model package groups`],
      [arn('model-package', `${groupPattern}/*`), `versions in the ${config.name} environment's model package groups`],
    ];
    acknowledgeNag(
      pipeline,
      ...wildcardResources.map(([resource, what]) => ({
        id: iam5ResourceFinding(pipeline, resource),
        reason: `SageMaker names pipeline jobs 'pipelines-<execution>-<step>' and numbers package versions at run time; the pattern covers ${what} only`,
      })),
    );
  }
}
