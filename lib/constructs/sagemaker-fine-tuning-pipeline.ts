import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { buildFineTuningPipeline, FineTuningPipelineProps } from '../pipeline/fine-tuning-pipeline';
import { MlServiceRole } from './ml-service-role';
import { TrainingCodeAsset } from './training-code-asset';

export interface SageMakerFineTuningPipelineProps {
  /** Pipeline name, unique in the account and region. Also the prefix of its model package group. */
  readonly pipelineName: string;
  /** Role SageMaker Pipelines runs the execution as; it must be allowed to pass the job roles. */
  readonly pipelineRole: MlServiceRole;
  readonly trainingRole: MlServiceRole;
  readonly processingRole: MlServiceRole;
  /** The job code; both job roles get read access to exactly its archive and launcher. */
  readonly code: TrainingCodeAsset;
  /** Everything else the definition needs (images, network, keys, storage URIs, gate, tuning...). */
  readonly definition: Omit<
    FineTuningPipelineProps,
    'trainingRoleArn' | 'processingRoleArn' | 'code' | 'modelPackageGroupName'
  >;
  /** Receives a message when an execution fails. */
  readonly failureTopic: sns.ITopic;
  /** Keeps failure events that could not be delivered to the topic. */
  readonly failureDeadLetterQueue: sqs.IQueue;
  /**
   * Keep the model package group, and with it every registered version and its lineage, when the stack is
   * deleted. @default true
   */
  readonly retainModelPackageGroup?: boolean;
}

/**
 * The fine-tuning pipeline as an `AWS::SageMaker::Pipeline`, with the model package group it registers into
 * and a rule that reports every failed execution to the alert topic.
 */
export class SageMakerFineTuningPipeline extends Construct {
  readonly pipeline: sagemaker.CfnPipeline;
  readonly modelPackageGroup: sagemaker.CfnModelPackageGroup;
  readonly failureRule: events.Rule;
  /** Names of the pipeline's parameters (what a trigger may set). */
  readonly parameterNames: readonly string[];

  /** The model package group a pipeline of this name registers into. */
  static modelPackageGroupNameFor(pipelineName: string): string {
    return `${pipelineName}-models`;
  }

  constructor(scope: Construct, id: string, props: SageMakerFineTuningPipelineProps) {
    super(scope, id);
    if (!/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$/.test(props.pipelineName)) {
      throw new Error(
        `Invalid SageMakerFineTuningPipeline props:\n- pipelineName must be letters, digits and hyphens, at most 256, got '${props.pipelineName}'`,
      );
    }
    const groupName = SageMakerFineTuningPipeline.modelPackageGroupNameFor(props.pipelineName);
    // Built here so a bad definition fails synth with the builder's list of problems.
    const definition = buildFineTuningPipeline({
      ...props.definition,
      trainingRoleArn: props.trainingRole.role.roleArn,
      processingRoleArn: props.processingRole.role.roleArn,
      code: props.code.jobCode,
      modelPackageGroupName: groupName,
    });

    this.parameterNames = definition.Parameters.map((p) => String(p.Name));

    this.modelPackageGroup = new sagemaker.CfnModelPackageGroup(this, 'ModelPackageGroup', {
      modelPackageGroupName: groupName,
      modelPackageGroupDescription: `Models fine-tuned by the ${props.pipelineName} pipeline; each version waits for manual approval`,
    });
    this.modelPackageGroup.applyRemovalPolicy(props.retainModelPackageGroup === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN);
    props.code.grantReadArchive(props.trainingRole);
    props.code.grantRead(props.processingRole);

    this.pipeline = new sagemaker.CfnPipeline(this, 'Pipeline', {
      pipelineName: props.pipelineName,
      pipelineDescription: 'Prepare data, fine-tune, evaluate, gate on quality, register for approval',
      roleArn: props.pipelineRole.role.roleArn,
      pipelineDefinition: { PipelineDefinitionBody: Stack.of(this).toJsonString(definition) },
    });
    // The role's policy must exist before the pipeline validates it can pass the job roles.
    if (props.pipelineRole.policy) this.pipeline.node.addDependency(props.pipelineRole.policy);
    this.pipeline.node.addDependency(this.modelPackageGroup);

    this.failureRule = new events.Rule(this, 'FailedExecutionRule', {
      description: `Reports failed executions of ${props.pipelineName}`,
      eventPattern: {
        source: ['aws.sagemaker'],
        detailType: ['SageMaker Model Building Pipeline Execution Status Change'],
        detail: {
          currentPipelineExecutionStatus: ['Failed'],
          pipelineArn: [pipelineArn(this, props.pipelineName)],
        },
      },
    });
    const execution = events.EventField.fromPath('$.detail.pipelineExecutionArn');
    const message = events.RuleTargetInput.fromText(
      `SageMaker pipeline ${props.pipelineName} failed: execution ${execution}. ` +
        `Open it in SageMaker Studio or run \`aws sagemaker list-pipeline-execution-steps --pipeline-execution-arn ${execution}\` for the failed step and its reason.`,
    );
    // Not targets.SnsTopic: it would add this rule's ARN to the topic's policy in the security stack, which
    // already lets EventBridge in this account publish (PlatformAlerts), and make that stack depend on this.
    this.failureRule.addTarget({
      bind: () => ({
        arn: props.failureTopic.topicArn,
        input: message,
        deadLetterConfig: { arn: props.failureDeadLetterQueue.queueArn },
        retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: Duration.hours(24).toSeconds() },
      }),
    });
  }
}

/** SageMaker lower-cases pipeline names in ARNs and events. */
function pipelineArn(scope: Construct, name: string): string {
  return Stack.of(scope).formatArn({ service: 'sagemaker', resource: 'pipeline', resourceName: name.toLowerCase() });
}
