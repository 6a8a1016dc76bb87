import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { FINE_TUNING_STEP_NAMES } from '../../lib/pipeline/fine-tuning-pipeline';
import { errorsOf, overlaidValidator } from '../pipeline/fixtures';
import { normalizedTemplate, synthesizeStage } from '../support/app';

const dev = synthesizeStage(ENVIRONMENTS.dev);
const tpl = dev.templates.pipelines;

/**
 * The deployed definition body: a Fn::Join of JSON text and CloudFormation references. References sit inside
 * JSON strings, so replacing each with a marker gives parseable JSON with the real structure.
 */
function deployedDefinition(template = tpl): any {
  const pipeline = Object.values(template.findResources('AWS::SageMaker::Pipeline'))[0];
  const body = pipeline.Properties.PipelineDefinition.PipelineDefinitionBody;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'CFN_REF')).join('');
  return JSON.parse(text);
}

describe('pipelines stack', () => {
  const definition = deployedDefinition();

  test.each(Object.keys(ENVIRONMENTS))('the deployed definition of %s validates against the published schema plus overlay', (env) => {
    const validate = overlaidValidator();
    const deployed = deployedDefinition(synthesizeStage(ENVIRONMENTS[env]).templates.pipelines);
    if (!validate(deployed)) throw new Error(`schema errors:\n${errorsOf(validate)}`);
  });

  test('jobs run in the platform subnets with the platform key, spot from config', () => {
    const train = definition.Steps.find((s: any) => s.Name === FINE_TUNING_STEP_NAMES.train);
    expect(train.Arguments.VpcConfig.Subnets).toHaveLength(ENVIRONMENTS.dev.network.availabilityZones.length);
    expect(train.Arguments.EnableNetworkIsolation).toBe(true);
    expect(train.Arguments.EnableManagedSpotTraining).toBe(ENVIRONMENTS.dev.training.useSpot);
    expect(train.Arguments.StoppingCondition.MaxRuntimeInSeconds).toBe(ENVIRONMENTS.dev.training.maxRuntimeHours * 3600);
    expect(train.Arguments.AlgorithmSpecification.TrainingImage).toBe(
      '763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04',
    );
    const metricNames = train.Arguments.AlgorithmSpecification.MetricDefinitions.map((m: any) => m.Name);
    expect(metricNames).toEqual(expect.arrayContaining(['train_loss', 'eval_loss', 'learning_rate', 'tokens_per_second']));
  });

  test('the quality gate uses the configured metric and bound', () => {
    const gate = definition.Steps.find((s: any) => s.Name === FINE_TUNING_STEP_NAMES.qualityGate);
    expect(JSON.stringify(gate.Arguments.Conditions)).toContain(ENVIRONMENTS.dev.training.qualityGate.metricPath);
    expect(JSON.stringify(gate.Arguments.Conditions)).toContain(String(ENVIRONMENTS.dev.training.qualityGate.maximum));
  });

  test('pipeline, model package group and failure rule carry the environment name', () => {
    tpl.hasResourceProperties('AWS::SageMaker::Pipeline', { PipelineName: 'fmft-dev-fine-tuning' });
    tpl.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'fmft-dev-fine-tuning-models' });
    tpl.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Model Building Pipeline Execution Status Change'],
        detail: { currentPipelineExecutionStatus: ['Failed'], pipelineArn: Match.anyValue() },
      },
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: Match.anyValue() },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 },
        }),
      ],
    });
  });

  test('the alert topic and its dead-letter queue accept EventBridge only from this account', () => {
    dev.templates.security.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: Match.arrayWith(['events.amazonaws.com']) },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
    dev.templates.security.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' }),
        ]),
      },
    });
  });

  test('job roles may read the code archive and the staged base models', () => {
    const policies = dev.templates.security.findResources('AWS::IAM::ManagedPolicy');
    for (const role of ['TrainingRole', 'ProcessingRole']) {
      const [, policy] = Object.entries(policies).find(([id]) => id.startsWith(`${role}Policy`))!;
      const text = JSON.stringify(policy);
      expect(text).toContain('models/base/*');
      // Exactly one object of the CDK assets bucket: the code archive, named by its content hash.
      expect(text).toMatch(/cdk-[a-z0-9]+-assets-.*\/[0-9a-f]{64}\.gz"/);
    }
  });

  test('snapshot', () => {
    expect(normalizedTemplate(tpl)).toMatchSnapshot();
  });
});

describe('code archive path', () => {
  test('jobs open the archive under the name SageMaker copies it as (the asset key)', () => {
    const text = JSON.stringify(deployedDefinition());
    const archive = /\/opt\/ml\/input\/data\/code\/([0-9a-f]{64}\.gz)/.exec(text)?.[1];
    expect(archive).toBeDefined();
    expect(text).toContain(`tar -xzf /opt/ml/processing/input/code/${archive}`);
    expect(text).not.toContain('sourcedir.tar.gz');
  });
});

describe('hyperparameter tuning from config', () => {
  test('prod tunes with the configured search; dev runs one training job', () => {
    const prodTpl = synthesizeStage(ENVIRONMENTS.prod).templates.pipelines;
    const body = JSON.stringify(Object.values(prodTpl.findResources('AWS::SageMaker::Pipeline'))[0].Properties);
    const tuning = ENVIRONMENTS.prod.training.tuning!;
    expect(body).toContain('\\"Type\\":\\"Tuning\\"');
    expect(body).toContain('\\"Strategy\\":\\"Bayesian\\"');
    expect(body).toContain(`\\"MaxNumberOfTrainingJobs\\":${tuning.maxJobs}`);
    expect(body).toContain(`\\"MaxParallelTrainingJobs\\":${tuning.maxParallelJobs}`);
    expect(body).toContain('\\"TrainingJobEarlyStoppingType\\":\\"Auto\\"');
    expect(JSON.stringify(deployedDefinition().Steps.map((s: any) => s.Type))).not.toContain('Tuning');
  });
});
