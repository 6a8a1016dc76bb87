import * as fs from 'fs';
import * as path from 'path';
import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { FINE_TUNING_STEP_NAMES } from '../../lib/pipeline/fine-tuning-pipeline';
import { errorsOf, overlaidValidator } from '../pipeline/fixtures';
import { normalizedTemplate, synthesizeEnvironment } from '../support/app';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
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
    const deployed = deployedDefinition(synthesizeEnvironment(ENVIRONMENTS[env]).templates.pipelines);
    if (!validate(deployed)) throw new Error(`schema errors:\n${errorsOf(validate)}`);
  });

  test('jobs run in the platform subnets with the platform key, spot from config', () => {
    const train = definition.Steps.find((s: any) => s.Name === FINE_TUNING_STEP_NAMES.train);
    expect(train.Arguments.VpcConfig.Subnets).toHaveLength(ENVIRONMENTS.dev.network.availabilityZones.length);
    expect(train.Arguments.EnableNetworkIsolation).toBe(true);
    expect(train.Arguments.EnableManagedSpotTraining).toBe(ENVIRONMENTS.dev.training.useSpot);
    expect(train.Arguments.StoppingCondition.MaxRuntimeInSeconds).toBe(ENVIRONMENTS.dev.training.maxRuntimeHours * 3600);
    // The job image is a CloudFormation reference (the asset repository); see 'job image' below.
    expect(train.Arguments.AlgorithmSpecification.TrainingImage).toBe('CFN_REF');
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

describe('job image', () => {
  const body = JSON.stringify(Object.values(tpl.findResources('AWS::SageMaker::Pipeline'))[0].Properties);
  const image = dev.platform.training.jobImage!;

  test('training and processing jobs run the image built from training/Dockerfile on the region DLC', () => {
    const definition = deployedDefinition();
    const jobs = definition.Steps.filter((s: any) => ['Training', 'Processing'].includes(s.Type));
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    for (const job of jobs) {
      expect(job.Arguments.AlgorithmSpecification?.TrainingImage ?? job.Arguments.AppSpecification.ImageUri).toBe('CFN_REF');
    }
    // The only image references in the definition are the asset's tag in the CDK asset repository.
    const tags = [...body.matchAll(/container-assets-[^"]*?:([0-9a-f]{64})/g)].map((m) => m[1]);
    expect(new Set(tags)).toEqual(new Set([image.asset.assetHash]));
    expect(body).not.toContain('huggingface-pytorch-training');
  });

  test('the image builds FROM the pinned DLC of the stack region, for linux/amd64', () => {
    const assets = JSON.parse(fs.readFileSync(path.join(dev.outdir, `${dev.platform.training.artifactId}.assets.json`), 'utf8'));
    const docker = assets.dockerImages[image.asset.assetHash];
    expect(docker.source.dockerBuildArgs.BASE_IMAGE).toBe(
      '763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04',
    );
    expect(docker.source.platform).toBe('linux/amd64');
    expect(fs.readdirSync(path.join(dev.outdir, docker.source.directory)).sort()).toEqual(['Dockerfile', 'requirements.txt']);
  });

  test('only the training and processing roles may pull it, from the asset repository only', () => {
    const policies = dev.templates.security.findResources('AWS::IAM::ManagedPolicy');
    const pulling = Object.entries(policies)
      .filter(([, p]) => JSON.stringify(p).includes('container-assets-'))
      .map(([id]) => id.replace(/Policy[0-9A-F]{8}$/, ''));
    expect(pulling.sort()).toEqual(['ProcessingRole', 'TrainingRole']);
  });

  test('no image is built when the config names both images', () => {
    const own = '111122223333.dkr.ecr.us-east-1.amazonaws.com/fmft/jobs:1.0.0';
    const config = { ...ENVIRONMENTS.dev, training: { ...ENVIRONMENTS.dev.training, images: { training: own, processing: own } } };
    const stage = synthesizeEnvironment(config);
    expect(stage.platform.training.jobImage).toBeUndefined();
    const text = JSON.stringify(stage.templates.pipelines.toJSON());
    expect(text).toContain(own);
    expect(text).not.toContain('container-assets-');
  });
});

describe('code archive path', () => {
  test('jobs open the archive and the launcher under the names SageMaker copies them as (the asset keys)', () => {
    const definition = deployedDefinition();
    const text = JSON.stringify(definition);
    const archive = /\/opt\/ml\/input\/data\/code\/([0-9a-f]{64}\.gz)/.exec(text)?.[1];
    expect(archive).toBeDefined();
    const prepare = definition.Steps.find((s: any) => s.Name === 'PrepareData').Arguments;
    expect(prepare.AppSpecification.ContainerArguments[0]).toBe(`/opt/ml/processing/input/code/${archive}`);
    expect(prepare.AppSpecification.ContainerEntrypoint).toEqual(['python3', expect.stringMatching(/^\/opt\/ml\/processing\/input\/launcher\/[0-9a-f]{64}\.py$/)]);
    expect(text).not.toContain('sourcedir.tar.gz');
  });
});

describe('hyperparameter tuning from config', () => {
  test('prod tunes with the configured search; dev runs one training job', () => {
    const prodTpl = synthesizeEnvironment(ENVIRONMENTS.prod).templates.pipelines;
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
