import { ProcessingInstanceType, ProductionVariantInstanceType, TrainingInstanceType } from '@aws-sdk/client-sagemaker';
import containerImages from '../../lib/config/container-images.json';
import facts from '../../lib/config/instance-accelerators.json';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { cudaFloorImages, instanceAccelerators, splitInstanceType } from '../../lib/config/instance-types';
import servingImages from '../../lib/config/serving-images.json';
import { ConfigValidationError, findConfigProblems, validateEnvironmentConfig } from '../../lib/config/validate';
import { configWith } from '../support/app';

const ARN = 'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-dev-fine-tuning-models/1';
const variant = (instanceType: string) => ({ name: 'a', modelPackageArn: ARN, initialWeight: 1, instanceType, minInstances: 1, maxInstances: 2 });
const component = (name: string, copies: number, acceleratorsPerCopy: number) => ({ name, modelPackageArn: ARN, copies, acceleratorsPerCopy, memoryMiB: 8192 });
const shared = (instanceType: string, maxInstances: number, components: unknown[]) => ({ instanceType, minInstances: 1, maxInstances, components });
const bad = (change: (c: any) => void) => () => validateEnvironmentConfig(configWith(ENVIRONMENTS.dev, change));

describe('instance types: the SageMaker API enumeration of each field', () => {
  test.each<[string, (c: any) => void, RegExp]>([
    [
      'a training type the API does not know',
      (c) => (c.training.trainingInstanceType = 'ml.g5.99xlarge'),
      /training.trainingInstanceType: got "ml.g5.99xlarge"; allowed: an instance type the SageMaker API accepts for training jobs \(TrainingInstanceType of @aws-sdk\/client-sagemaker\); the ml.g5 sizes it accepts: ml.g5.xlarge, ml.g5.2xlarge, .*, ml.g5.48xlarge$/m,
    ],
    [
      'a processing type that only training accepts',
      (c) => (c.training.processingInstanceType = 'ml.p4d.24xlarge'),
      /training.processingInstanceType: got "ml.p4d.24xlarge"; allowed: an instance type the SageMaker API accepts for processing jobs \(ProcessingInstanceType of @aws-sdk\/client-sagemaker\); families it accepts: c4, c5, .*, t3$/m,
    ],
    [
      'an endpoint type of the model package the API does not know',
      (c) => (c.training.endpointInstanceType = 'ml.g5.99xlarge'),
      /training.endpointInstanceType: got "ml.g5.99xlarge"; allowed: an instance type the SageMaker API accepts for endpoints \(ProductionVariantInstanceType of @aws-sdk\/client-sagemaker\); the ml.g5 sizes/,
    ],
    [
      'a variant type the API does not know',
      (c) => (c.serving.variants = [variant('ml.g5.99xlarge')]),
      /serving.variants\[0\].instanceType: got "ml.g5.99xlarge"; allowed: an instance type the SageMaker API accepts for endpoints/,
    ],
    [
      'a staging type the API does not know',
      (c) => (c.serving.stagingInstanceType = 'ml.g9.xlarge'),
      /serving.stagingInstanceType: got "ml.g9.xlarge"; allowed: an instance type the SageMaker API accepts for endpoints .*; families it accepts: c4, /,
    ],
    [
      'a shared endpoint type the API does not know',
      (c) => (c.serving.sharedEndpoint = shared('ml.g5.99xlarge', 1, [component('m', 1, 1)])),
      /serving.sharedEndpoint.instanceType: got "ml.g5.99xlarge"; allowed: an instance type the SageMaker API accepts for endpoints/,
    ],
  ])('rejects %s', (_name, change, message) => {
    expect(bad(change)).toThrow(ConfigValidationError);
    expect(bad(change)).toThrow(message);
  });

  test('every instance type of both environments is one the API accepts for its field', () => {
    for (const config of Object.values(ENVIRONMENTS)) expect(findConfigProblems(config)).toEqual([]);
  });
});

describe('instance types: what our CUDA images run on (an error, not a warning)', () => {
  test.each<[string, (c: any) => void, RegExp]>([
    [
      'a GPU-less training type',
      (c) => (c.training.trainingInstanceType = 'ml.m5.xlarge'),
      /training.trainingInstanceType: got "ml.m5.xlarge"; the training image \(Hugging Face PyTorch training DLC, CUDA 13.0\) needs an NVIDIA GPU and ml.m5.xlarge has none; allowed: an NVIDIA GPU type such as ml.g/,
    ],
    [
      'a Trainium training type',
      (c) => (c.training.trainingInstanceType = 'ml.trn1.32xlarge'),
      /training.trainingInstanceType: got "ml.trn1.32xlarge"; the training image .* needs an NVIDIA GPU and ml.trn1.32xlarge has AWS Trainium accelerators \(they need AWS Neuron images\); allowed: an NVIDIA GPU type such as/,
    ],
    [
      'a training GPU older than CUDA 13 supports',
      (c) => (c.training.trainingInstanceType = 'ml.p3.2xlarge'),
      /training.trainingInstanceType: got "ml.p3.2xlarge"; the training image .* needs NVIDIA compute capability 7.5 or higher and ml.p3.2xlarge has NVIDIA V100 \(7.0\); allowed: a newer GPU type such as/,
    ],
    [
      'an Inferentia variant type for the LMI image',
      (c) => (c.serving.variants = [variant('ml.inf2.xlarge')]),
      /serving.variants\[0\].instanceType: got "ml.inf2.xlarge"; the LMI serving image \(DJL LMI, CUDA 13.0\) needs an NVIDIA GPU and ml.inf2.xlarge has AWS Inferentia2 accelerators/,
    ],
    [
      'a Trainium variant type for the TGI image',
      (c) => {
        c.serving.container = 'tgi';
        c.serving.variants = [variant('ml.trn1.2xlarge')];
      },
      /serving.variants\[0\].instanceType: got "ml.trn1.2xlarge"; the TGI serving image \(Hugging Face TGI, CUDA 12.4\) needs an NVIDIA GPU/,
    ],
    [
      'a GPU-less staging type',
      (c) => (c.serving.stagingInstanceType = 'ml.c5.xlarge'),
      /serving.stagingInstanceType: got "ml.c5.xlarge"; the LMI serving image .* needs an NVIDIA GPU and ml.c5.xlarge has none/,
    ],
    [
      'a Habana Gaudi shared endpoint type',
      (c) => (c.serving.sharedEndpoint = shared('ml.dl1.24xlarge', 1, [component('m', 1, 1)])),
      /serving.sharedEndpoint.instanceType: got "ml.dl1.24xlarge"; the LMI serving image .* needs an NVIDIA GPU and ml.dl1.24xlarge has Habana Gaudi accelerators \(they need Habana Gaudi images\)/,
    ],
    [
      'a GPU-less type recorded in the model package',
      (c) => (c.training.endpointInstanceType = 'ml.m5.large'),
      /training.endpointInstanceType: got "ml.m5.large"; the LMI serving image .* needs an NVIDIA GPU and ml.m5.large has none/,
    ],
  ])('rejects %s', (_name, change, message) => {
    expect(bad(change)).toThrow(ConfigValidationError);
    expect(bad(change)).toThrow(message);
  });

  test('an own serving image (serving.imageUri) may run on any type the API accepts for endpoints', () => {
    const config = configWith(ENVIRONMENTS.dev, (c) => {
      c.serving.imageUri = '111122223333.dkr.ecr.us-east-1.amazonaws.com/lmi-neuron:1.0';
      c.serving.variants = [{ ...variant('ml.inf2.xlarge'), name: 'current' }];
      c.serving.stagingInstanceType = 'ml.inf2.xlarge';
      c.training.endpointInstanceType = 'ml.inf2.xlarge';
    });
    expect(findConfigProblems(config)).toEqual([]);
  });
});

describe('inference components: accelerators per copy fit the instance', () => {
  test('rejects a copy that needs more GPUs than one instance has', () => {
    expect(bad((c) => (c.serving.sharedEndpoint = shared('ml.g5.12xlarge', 2, [component('m', 1, 8)])))).toThrow(
      /serving.sharedEndpoint.components\[0\].acceleratorsPerCopy: got 8; allowed: at most 4: ml.g5.12xlarge has 4 x NVIDIA A10G \(24 GB each\) \(lib\/config\/instance-accelerators.json\)/,
    );
  });

  test('rejects copies that need more GPUs than maxInstances instances have', () => {
    expect(bad((c) => (c.serving.sharedEndpoint = shared('ml.g5.12xlarge', 3, [component('a', 10, 1), component('b', 2, 2)])))).toThrow(
      /serving.sharedEndpoint.components: got \{"a":"10 copies x 1","b":"2 copies x 2"\}; the copies need 14 accelerators, but maxInstances \(3\) x 4 of ml.g5.12xlarge give 12; allowed: fewer copies/,
    );
  });

  test('accepts copies that fill the instances exactly', () => {
    const config = configWith(ENVIRONMENTS.dev, (c) => (c.serving.sharedEndpoint = shared('ml.g5.12xlarge', 3, [component('a', 8, 1), component('b', 2, 2)])));
    expect(findConfigProblems(config)).toEqual([]);
  });
});

describe('instance-accelerators.json keeps up with the pinned SDK and images', () => {
  const apiTypes: string[] = [...new Set<string>([...Object.values(TrainingInstanceType), ...Object.values(ProcessingInstanceType), ...Object.values(ProductionVariantInstanceType)])];

  test('every family the SageMaker API knows is either accelerated (with counts) or listed as CPU-only', () => {
    const families = facts.families as Record<string, { sizes: Record<string, number> }>;
    const missing = apiTypes.filter((t) => instanceAccelerators(t) === 'unknown');
    expect(missing).toEqual([]);
    const both = Object.keys(families).filter((f) => facts.cpuOnlyFamilies.includes(f));
    expect(both).toEqual([]);
  });

  test('no entry of the table is unknown to the API (typos would never match)', () => {
    const known = new Set(apiTypes);
    const families = facts.families as Record<string, { sizes: Record<string, number> }>;
    const listed = Object.entries(families).flatMap(([family, f]) => Object.keys(f.sizes).map((size) => `ml.${family}.${size}`));
    expect(listed.filter((t) => !known.has(t))).toEqual([]);
    const apiFamilies = new Set(apiTypes.map((t) => splitInstanceType(t).family));
    expect(facts.cpuOnlyFamilies.filter((f) => !apiFamilies.has(f))).toEqual([]);
  });

  test("each CUDA floor was set for the image tag that is pinned now (re-check the floor when a tag changes)", () => {
    const floors = cudaFloorImages();
    const training = containerImages.huggingfacePytorchTraining;
    expect(floors.training).toBe(`${training.repository}:${training.tag}`);
    expect(floors.lmi).toBe(`${servingImages.lmi.repository}:${servingImages.lmi.tag}`);
    expect(floors.tgi).toBe(`${servingImages.tgi.repository}:${servingImages.tgi.tag}`);
  });
});
