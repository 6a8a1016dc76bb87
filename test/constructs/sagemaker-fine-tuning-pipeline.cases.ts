import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { MlServiceRole } from '../../lib/constructs/ml-service-role';
import { SageMakerFineTuningPipeline, SageMakerFineTuningPipelineProps } from '../../lib/constructs/sagemaker-fine-tuning-pipeline';
import { TrainingCodeAsset } from '../../lib/constructs/training-code-asset';
import { baseProps } from '../pipeline/fixtures';
import { testStack } from '../support/app';

function fixture(change: Partial<SageMakerFineTuningPipelineProps> = {}) {
  const stack = testStack();
  const role = (id: string) => new MlServiceRole(stack, id, { trust: { service: 'sagemaker.amazonaws.com' }, description: id });
  const { trainingRoleArn, processingRoleArn, code, modelPackageGroupName, ...definition } = baseProps();
  void [trainingRoleArn, processingRoleArn, code, modelPackageGroupName];
  const pipelineRole = role('PipelineRole');
  pipelineRole.allowMetrics('/aws/sagemaker/Pipelines');
  const make = () =>
    new SageMakerFineTuningPipeline(stack, 'Pipeline', {
      pipelineName: 'fmft-test-fine-tuning',
      pipelineRole,
      trainingRole: role('TrainingRole'),
      processingRole: role('ProcessingRole'),
      code: new TrainingCodeAsset(stack, 'Code', { sourceDirectory: path.join(__dirname, '..', '..', 'training') }),
      definition,
      failureTopic: new sns.Topic(stack, 'Alerts'),
      failureDeadLetterQueue: new sqs.Queue(stack, 'Dlq'),
      ...change,
    });
  return { stack, make };
}

describe('SageMakerFineTuningPipeline', () => {
  const f = fixture();
  const construct = f.make();
  const template = Template.fromStack(f.stack);

  test('the model package group, with every version and its lineage, is kept when the stack is deleted', () => {
    template.hasResource('AWS::SageMaker::ModelPackageGroup', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const disposable = fixture({ retainModelPackageGroup: false });
    disposable.make();
    Template.fromStack(disposable.stack).hasResource('AWS::SageMaker::ModelPackageGroup', { DeletionPolicy: 'Delete' });
  });

  test('the training role reads the code archive only; the processing role also reads the launcher', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::ManagedPolicy'));
    const byRole = (roleId: string) =>
      JSON.stringify(Object.values(template.findResources('AWS::IAM::ManagedPolicy')).filter((p: any) => JSON.stringify(p.Properties.Roles).includes(roleId)));
    expect(policies).toContain('.py');
    expect(byRole('TrainingRole')).toContain('.gz');
    expect(byRole('TrainingRole')).not.toContain('.py');
    expect(byRole('ProcessingRole')).toContain('.py');
  });

  test('the pipeline runs as the pipeline role and registers into its own group', () => {
    template.hasResourceProperties('AWS::SageMaker::Pipeline', {
      PipelineName: 'fmft-test-fine-tuning',
      RoleArn: { 'Fn::GetAtt': [f.stack.getLogicalId(construct.pipeline.node.scope!.node.scope!.node.findChild('PipelineRole').node.findChild('Role').node.defaultChild as any), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'fmft-test-fine-tuning-models' });
    const body = JSON.stringify(template.findResources('AWS::SageMaker::Pipeline'));
    expect(body).toContain('fmft-test-fine-tuning-models');
  });

  test('the pipeline waits for the model package group and the role policy', () => {
    const [pipeline] = Object.values(template.findResources('AWS::SageMaker::Pipeline'));
    expect(pipeline.DependsOn).toEqual(
      expect.arrayContaining([
        f.stack.getLogicalId(construct.modelPackageGroup),
        expect.stringMatching(/^PipelineRolePolicy/),
      ]),
    );
  });

  test('failed executions of this pipeline only go to the topic, with retries and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        detail: {
          currentPipelineExecutionStatus: ['Failed'],
          pipelineArn: [{ 'Fn::Join': ['', ['arn:aws:sagemaker:us-east-1:', { Ref: 'AWS::AccountId' }, ':pipeline/fmft-test-fine-tuning']] }],
        },
      },
    });
    const [rule] = Object.values(template.findResources('AWS::Events::Rule'));
    expect(rule.Properties.Targets).toHaveLength(1);
    expect(rule.Properties.Targets[0].RetryPolicy).toEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 });
    expect(rule.Properties.Targets[0].DeadLetterConfig.Arn).toBeDefined();
    // The topic's policy is not touched: the alerts construct admits EventBridge by account.
    template.resourceCountIs('AWS::SNS::TopicPolicy', 0);
  });

  test('rejects a pipeline name SageMaker does not accept', () => {
    expect(() => fixture({ pipelineName: 'bad_name' }).make()).toThrow(/pipelineName must be letters, digits and hyphens, at most 256, got 'bad_name'/);
  });

  test('an invalid definition fails synth with the builder\'s problems', () => {
    const { trainingRoleArn, processingRoleArn, code, modelPackageGroupName, ...definition } = baseProps();
    void [trainingRoleArn, processingRoleArn, code, modelPackageGroupName];
    expect(() => fixture({ definition: { ...definition, trainingNetwork: { subnetIds: [], securityGroupIds: ['sg-1'] } } }).make()).toThrow(/subnet/i);
  });
});
