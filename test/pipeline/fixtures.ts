import Ajv from 'ajv';
import { COST_TAG_KEYS } from '../../lib/config/cost-tags';
import { FineTuningPipelineProps } from '../../lib/pipeline/fine-tuning-pipeline';
import { applySchemaOverlay, loadPublishedSchema } from '../../lib/pipeline/schema/overlay';
import metricsContract from '../../training/contracts/training-metrics.json';

export { loadPublishedSchema };

/**
 * A validator for a schema. strict is off because the published schema itself trips ajv's schema lint (a
 * stray 'Values' keyword, minLength on integers, an unknown $schema URI); that lints the schema, it does not
 * relax validation of the data.
 */
export function validatorFor(schema: Record<string, any>) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  return ajv.compile(schema);
}

export function errorsOf(validate: ReturnType<typeof validatorFor>): string {
  return (validate.errors ?? []).slice(0, 20).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`).join('\n');
}

export const overlaidValidator = () => validatorFor(applySchemaOverlay(loadPublishedSchema()));

/** Realistic placeholder props (test-only account id and ids). */
export function baseProps(): FineTuningPipelineProps {
  return {
    trainingRoleArn: 'arn:aws:iam::111122223333:role/fine-tuning-training',
    processingRoleArn: 'arn:aws:iam::111122223333:role/fine-tuning-processing',
    trainingImageUri: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04',
    processingImageUri: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/fine-tuning-processing:1',
    inference: {
      imageUri: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.1.1-tgi1.4.0-gpu-py310-cu121-ubuntu20.04',
      instanceTypes: ['ml.g5.2xlarge'],
    },
    trainingNetwork: { subnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'], securityGroupIds: ['sg-0training'] },
    processingNetwork: { subnetIds: ['subnet-0ccc3333'], securityGroupIds: ['sg-0processing'] },
    volumeKmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555',
    outputKmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/66666666-7777-8888-9999-000000000000',
    storage: {
      rawData: 's3://ml-dev-training-data-111122223333-eu-west-1/training-data/raw/',
      processedData: 's3://ml-dev-training-data-111122223333-eu-west-1/training-data/processed/',
      checkpoints: 's3://ml-dev-model-artifacts-111122223333-eu-west-1/models/checkpoints/',
      finalModels: 's3://ml-dev-model-artifacts-111122223333-eu-west-1/models/final/',
      evaluationReports: 's3://ml-dev-evaluation-results-111122223333-eu-west-1/evaluation/reports/',
    },
    code: {
      archiveS3Uri: 's3://ml-dev-model-artifacts-111122223333-eu-west-1/code/v1/sourcedir.tar.gz',
      archiveFileName: 'sourcedir.tar.gz',
      launcherS3Uri: 's3://ml-dev-model-artifacts-111122223333-eu-west-1/code/v1/run_module.py',
      launcherFileName: 'run_module.py',
    },
    defaults: {
      baseModelUri: 's3://ml-dev-model-artifacts-111122223333-eu-west-1/base-models/llama-3.1-8b/',
      instanceType: 'ml.g5.12xlarge',
    },
    processingInstanceType: 'ml.m5.2xlarge',
    metricDefinitions: metricsContract.metrics.map((m) => ({ name: m.name, regex: m.regex })),
    evaluation: { task: 'perplexity', metricPath: 'generation_metrics.perplexity.value', maximum: 12 },
    modelPackageGroupName: 'fine-tuning-dev',
    // What costTags(config) gives: the environment's tags and its name.
    costTags: { project: 'fine-tuning', 'cost-center': 'ml-platform', [COST_TAG_KEYS.environment]: 'dev' },
  };
}

export const tuningOptions = {
  objectiveMetricName: 'eval_loss',
  objectiveType: 'Minimize' as const,
  maxJobs: 12,
  maxParallelJobs: 3,
  learningRate: { min: 1e-5, max: 5e-4 },
  epochs: { min: 1, max: 3 },
  loraR: { values: [8, 16, 32] },
  loraAlpha: { min: 16, max: 64 },
  perDeviceTrainBatchSize: { values: [1, 2, 4] },
};

/** Every step, branch steps included. */
export function allSteps(definition: { Steps: readonly any[] }): any[] {
  const out: any[] = [];
  const visit = (s: any) => {
    out.push(s);
    if (s.Type === 'Condition') [...(s.Arguments.IfSteps ?? []), ...(s.Arguments.ElseSteps ?? [])].forEach(visit);
  };
  definition.Steps.forEach(visit);
  return out;
}
