import { ProcessingInstanceType, ProductionVariantInstanceType, TrainingInstanceType } from '@aws-sdk/client-sagemaker';
import facts from './instance-accelerators.json';

/**
 * Instance types the config may name, from two sources: the SageMaker API's own enumerations (the pinned
 * @aws-sdk/client-sagemaker), which say what a job or endpoint accepts at all, and the accelerator facts of
 * `instance-accelerators.json`, which say what our images can run on and how many GPUs an instance has.
 */

/** What an instance type is for; each use has its own enumeration in the SageMaker API. */
export type InstanceUse = 'training' | 'processing' | 'endpoint';

const API_ENUMS: Record<InstanceUse, { readonly name: string; readonly label: string; readonly types: ReadonlySet<string> }> = {
  training: { name: 'TrainingInstanceType', label: 'training jobs', types: new Set(Object.values(TrainingInstanceType)) },
  processing: { name: 'ProcessingInstanceType', label: 'processing jobs', types: new Set(Object.values(ProcessingInstanceType)) },
  endpoint: { name: 'ProductionVariantInstanceType', label: 'endpoints', types: new Set(Object.values(ProductionVariantInstanceType)) },
};

/** Every instance type the SageMaker API accepts for `use`. */
export function apiInstanceTypes(use: InstanceUse): ReadonlySet<string> {
  return API_ENUMS[use].types;
}

/** Our images that need CUDA, keyed as in `instance-accelerators.json` `cudaImages`. */
export type CudaImage = 'training' | 'lmi' | 'tgi';

export interface InstanceAccelerators {
  /** Accelerator model, e.g. `NVIDIA A10G`. */
  readonly accelerator: string;
  readonly kind: 'nvidia-gpu' | 'aws-neuron' | 'habana-gaudi';
  /** NVIDIA compute capability (GPUs only). */
  readonly computeCapability?: number;
  readonly acceleratorMemoryGB: number;
  /** Accelerators (GPUs, Neuron devices) of one instance. */
  readonly count: number;
}

interface FamilyFacts {
  readonly accelerator: string;
  readonly kind: string;
  readonly computeCapability?: number;
  readonly acceleratorMemoryGB: number;
  readonly sizes: Readonly<Record<string, number>>;
}
const FAMILIES = facts.families as Readonly<Record<string, FamilyFacts>>;
const CPU_ONLY = new Set(facts.cpuOnlyFamilies);
const FACTS_FILE = 'lib/config/instance-accelerators.json';

/** `ml.g5.12xlarge` -> `{ family: 'g5', size: '12xlarge' }`. */
export function splitInstanceType(instanceType: string): { family: string; size: string } {
  const [, family = '', ...size] = instanceType.split('.');
  return { family, size: size.join('.') };
}

/**
 * The accelerators of one instance: `undefined` for a CPU-only type, `'unknown'` when the facts table knows
 * neither the type nor its family as CPU-only (a family newer than the table).
 */
export function instanceAccelerators(instanceType: string): InstanceAccelerators | undefined | 'unknown' {
  const { family, size } = splitInstanceType(instanceType);
  if (CPU_ONLY.has(family)) return undefined;
  const f = FAMILIES[family];
  const count = f?.sizes[size];
  if (!f || count === undefined) return 'unknown';
  return { accelerator: f.accelerator, kind: f.kind as InstanceAccelerators['kind'], computeCapability: f.computeCapability, acceleratorMemoryGB: f.acceleratorMemoryGB, count };
}

/** `4 x NVIDIA A10G (24 GB each)`, for messages. */
export function describeAccelerators(a: InstanceAccelerators): string {
  return `${a.count} x ${a.accelerator} (${a.acceleratorMemoryGB} GB each)`;
}

const SIZE_ORDER = (size: string) => (size === 'medium' ? 0.25 : size === 'large' ? 0.5 : size === 'xlarge' ? 1 : parseInt(size, 10) || 1000);

/**
 * Why the SageMaker API refuses `instanceType` for `use`, as the "allowed" part of a config message, or
 * `undefined` when it accepts it. Names the other sizes of the family where there are any.
 */
export function apiInstanceTypeProblem(use: InstanceUse, instanceType: string): string | undefined {
  const { name, label, types } = API_ENUMS[use];
  if (types.has(instanceType)) return undefined;
  const { family } = splitInstanceType(instanceType);
  const sameFamily = [...types].filter((t) => splitInstanceType(t).family === family);
  sameFamily.sort((a, b) => SIZE_ORDER(splitInstanceType(a).size) - SIZE_ORDER(splitInstanceType(b).size));
  const families = [...new Set([...types].map((t) => splitInstanceType(t).family))].sort();
  const hint = sameFamily.length
    ? `the ml.${family} sizes it accepts: ${sameFamily.join(', ')}`
    : `families it accepts: ${families.join(', ')}`;
  return `allowed: an instance type the SageMaker API accepts for ${label} (${name} of @aws-sdk/client-sagemaker); ${hint}`;
}

/** Whether `image` runs on `instanceType`: NVIDIA GPUs of at least the image's compute capability. */
function runsOn(image: CudaImage, instanceType: string): boolean {
  const a = instanceAccelerators(instanceType);
  return typeof a === 'object' && a.kind === 'nvidia-gpu' && (a.computeCapability ?? 0) >= facts.cudaImages[image].minComputeCapability;
}

/** A few GPU instance types that `image` runs on among `candidates`, for examples in messages. */
function cudaExamples(image: CudaImage, candidates: ReadonlySet<string>): string[] {
  return [...candidates]
    .filter((t) => /^ml\.g[0-9]+e?\.(xlarge|2xlarge|12xlarge)$/.test(t) && runsOn(image, t))
    .sort((a, b) => splitInstanceType(a).family.localeCompare(splitInstanceType(b).family) || SIZE_ORDER(splitInstanceType(a).size) - SIZE_ORDER(splitInstanceType(b).size))
    .slice(0, 6);
}

/**
 * Why `image` (a CUDA image of ours) cannot run on `instanceType`, or `undefined` when it can: the type
 * needs NVIDIA GPUs of at least the image's compute capability. CPU-only types, AWS Trainium/Inferentia
 * (Neuron) and Habana Gaudi types are refused, and so are GPUs older than the image's CUDA supports.
 */
export function cudaImageProblem(image: CudaImage, instanceType: string, use: InstanceUse = image === 'training' ? 'training' : 'endpoint'): string | undefined {
  const spec = facts.cudaImages[image];
  const a = instanceAccelerators(instanceType);
  const examples = () => cudaExamples(image, API_ENUMS[use].types).join(', ');
  if (a === 'unknown') {
    return `${instanceType} is not in ${FACTS_FILE}, so whether ${spec.description} can run on it is unknown; add its family there with its source, or use e.g. ${examples()}`;
  }
  if (a === undefined) {
    return `${spec.description} needs an NVIDIA GPU and ${instanceType} has none; allowed: an NVIDIA GPU type such as ${examples()}`;
  }
  if (a.kind !== 'nvidia-gpu') {
    return `${spec.description} needs an NVIDIA GPU and ${instanceType} has ${a.accelerator} accelerators (they need ${a.kind === 'aws-neuron' ? 'AWS Neuron' : 'Habana Gaudi'} images); allowed: an NVIDIA GPU type such as ${examples()}`;
  }
  if (!runsOn(image, instanceType)) {
    return `${spec.description} needs NVIDIA compute capability ${spec.minComputeCapability} or higher and ${instanceType} has ${a.accelerator} (${(a.computeCapability ?? 0).toFixed(1)}); allowed: a newer GPU type such as ${examples()}`;
  }
  return undefined;
}

/** The image tag each CUDA floor was determined for (`cudaImages.*.image`), for the drift test. */
export function cudaFloorImages(): Record<CudaImage, string> {
  return { training: facts.cudaImages.training.image, lmi: facts.cudaImages.lmi.image, tgi: facts.cudaImages.tgi.image };
}
