import dlc from './container-images.json';
import { ServingContainer } from './environment-config';
import table from './serving-images.json';

/** The serving image of `container` in `region`, from serving-images.json and the DLC registries table. */
export function servingImage(container: ServingContainer, region: string): string {
  const registry = (dlc.registries as Record<string, string>)[region];
  if (!registry) {
    throw new Error(`region: got "${region}"; no serving image is known there. Allowed: ${Object.keys(dlc.registries).join(', ')}, or set serving.imageUri`);
  }
  const { repository, tag } = table[container];
  return `${registry}.dkr.ecr.${region}.amazonaws.com/${repository}:${tag}`;
}

/** Continuous-batching settings as the container's environment variables. */
export function batchingEnvironment(container: ServingContainer, b: { maxConcurrentRequests: number; maxTotalTokens: number }): Record<string, string> {
  return container === 'lmi'
    ? {
        OPTION_ROLLING_BATCH: 'auto',
        OPTION_MAX_ROLLING_BATCH_SIZE: String(b.maxConcurrentRequests),
        OPTION_MAX_MODEL_LEN: String(b.maxTotalTokens),
      }
    : {
        MAX_CONCURRENT_REQUESTS: String(b.maxConcurrentRequests),
        MAX_TOTAL_TOKENS: String(b.maxTotalTokens),
      };
}
