import table from './container-images.json';

/** Regions with a Hugging Face DLC registry in the table. */
export const DLC_REGIONS = Object.keys(table.registries);

/**
 * The Hugging Face PyTorch training DLC of `region`, from the one table in `container-images.json`. Used for
 * training and processing jobs unless the environment config overrides the image.
 */
export function huggingFaceTrainingImage(region: string): string {
  const registry = (table.registries as Record<string, string>)[region];
  if (!registry) {
    throw new Error(
      `region: got "${region}"; no Hugging Face training image is known there. Allowed: ${DLC_REGIONS.join(', ')}, or set training.images in the config`,
    );
  }
  const { repository, tag } = table.huggingfacePytorchTraining;
  return `${registry}.dkr.ecr.${region}.amazonaws.com/${repository}:${tag}`;
}
