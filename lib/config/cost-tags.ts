import type { EnvironmentConfig } from './environment-config';

/**
 * Tag keys the platform puts on what its workflows create at run time (jobs, models, throughput, staging
 * endpoints), next to every tag of `config.tags`, so the bill can be split by environment, workflow and run.
 * Activate them as cost allocation tags in the Billing console (or with `aws ce
 * update-cost-allocation-tags-status`) once they have appeared on a resource.
 */
export const COST_TAG_KEYS = {
  /** The environment (`dev`, `prod`); the throughput guard also reads it to find its own throughput. */
  environment: 'fmft:environment',
  /** What started the job: the pipeline's or state machine's name. */
  workflow: 'fmft:workflow',
  /** The run: a pipeline execution id or a state machine execution name. */
  execution: 'fmft:execution',
} as const;

/** `config.tags` plus the environment tag: what every run-time resource carries; the run's own tags come on top. */
export function costTags(config: EnvironmentConfig): Record<string, string> {
  return { ...config.tags, [COST_TAG_KEYS.environment]: config.name };
}
