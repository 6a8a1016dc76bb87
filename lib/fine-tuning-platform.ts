import { Environment, Stage, Tags } from 'aws-cdk-lib';
import { EnvironmentConfig } from './config/environment-config';
import { failoverConfig } from './config/failover';
import { environmentPrefix } from './config/naming';
import { ApiStack } from './stacks/api-stack';
import { BedrockStack } from './stacks/bedrock-stack';
import { DeliveryStack } from './stacks/delivery-stack';
import { DisasterRecoveryStack } from './stacks/dr-stack';
import { EndpointsStack } from './stacks/endpoints-stack';
import { MonitoringStack } from './stacks/monitoring-stack';
import { NetworkStack } from './stacks/network-stack';
import { PipelinesStack } from './stacks/pipelines-stack';
import { RegistryStack } from './stacks/registry-stack';
import { SecurityStack } from './stacks/security-stack';
import { StorageStack } from './stacks/storage-stack';
import { TrainingStack } from './stacks/training-stack';

export interface FineTuningPlatformProps {
  /** A validated environment config (see `loadEnvironmentConfig`). */
  readonly config: EnvironmentConfig;
  /** Account and region of every stack. @default the config's primary region, account from the CLI */
  readonly env?: Environment;
  /**
   * The failover deployment (`-c failover=true`): every stack in `drRegion`, on the DR stack's replicas
   * (`failoverConfig`); no budget (the primary's is account-wide and still counts) and no delivery stack (its
   * roles are account-wide). `config` is the environment as configured, not the derived one. @default false
   */
  readonly failover?: boolean;
}

/** The stacks of one environment, by role. */
export interface FineTuningPlatform {
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
  /** Job image, job code and job settings. */
  readonly training: TrainingStack;
  readonly pipelines: PipelinesStack;
  readonly bedrock: BedrockStack;
  readonly registry: RegistryStack;
  /** Exists once `serving` names a registered version to serve (the registry starts empty). */
  readonly endpoints?: EndpointsStack;
  /** The replicas in drRegion, when disasterRecovery.replication is on. */
  readonly dr?: DisasterRecoveryStack;
  /** Watches whatever is served (nothing yet when there are no endpoints). */
  readonly monitoring: MonitoringStack;
  /** The inference API over every served model, when `api` is set. */
  readonly api?: ApiStack;
  /**
   * The GitHub Actions deploy role and the CloudFormation execution policy, when `delivery` is set. Not in
   * `stacks`: an administrator deploys it once; the workflow deploys `stacks` and never this one.
   */
  readonly delivery?: DeliveryStack;
  /** Every stack above, in deployment order. */
  readonly stacks: readonly (DisasterRecoveryStack | NetworkStack | StorageStack | SecurityStack | TrainingStack | PipelinesStack | BedrockStack | RegistryStack | EndpointsStack | MonitoringStack | ApiStack)[];
}

/**
 * Adds every stack of one environment to `stage`: the App for `cdk deploy` from a workstation or CI, or a
 * Stage of a delivery pipeline. Each stack's construct ID is its stack name (`fmft-dev-pipelines`), so the
 * CDK CLI lists, selects and deploys stacks by the names CloudFormation shows, and `cdk deploy --all`
 * deploys the whole environment in dependency order. Stacks get what they need from each other through
 * props.
 */
export function addFineTuningPlatform(stage: Stage, props: FineTuningPlatformProps): FineTuningPlatform {
  const configured = props.config;
  const failover = props.failover ?? false;
  // In a failover every stack but the DR stack gets the derived config: primaryRegion is the DR region.
  const config = failover ? failoverConfig(configured) : configured;
  const env = props.env ?? { account: process.env.CDK_DEFAULT_ACCOUNT, region: config.primaryRegion };
  const name = (stack: string) => `${environmentPrefix(config)}-${stack}`;
  const common = (stack: string, what: string) => ({
    config,
    env,
    stackName: name(stack),
    description: `${what} of the ${config.name} fine-tuning platform`,
  });

  const network = new NetworkStack(stage, name('network'), common('network', 'Private network'));
  // The replicas must exist before the primary buckets' replication rules name them.
  // Built from the environment as configured, also in a failover: the same stack, already there, whose
  // replicas the failover's storage stack adopts.
  const dr = configured.disasterRecovery.replication
    ? new DisasterRecoveryStack(stage, name('dr'), {
        config: configured,
        env: { account: env.account, region: configured.drRegion },
        stackName: name('dr'),
        description: `Replicas in ${configured.drRegion} of the ${config.name} fine-tuning platform`,
      })
    : undefined;
  const storage = new StorageStack(stage, name('storage'), { ...common('storage', 'Keys and buckets'), adopt: failover ? dr : undefined });
  if (dr) storage.addStackDependency(dr, failover ? 'its buckets and keys are the replicas' : 'replicates into its buckets');
  const security = new SecurityStack(stage, name('security'), {
    ...common('security', 'Roles, audit trail, image repository and alerts'),
    network,
    storage,
    budget: !failover,
  });
  const training = new TrainingStack(stage, name('training'), {
    ...common('training', 'Job image, job code and job settings'),
    storage,
    security,
  });
  const pipelines = new PipelinesStack(stage, name('pipelines'), {
    ...common('pipelines', 'SageMaker fine-tuning pipeline and its retraining triggers'),
    network,
    storage,
    security,
    training,
  });
  const bedrock = new BedrockStack(stage, name('bedrock'), {
    ...common('bedrock', 'Bedrock customization, invocation logging and throughput guard'),
    network,
    storage,
    security,
    training,
  });
  const registry = new RegistryStack(stage, name('registry'), {
    ...common('registry', 'Staged promotion (staging, validation, approval, production rollout) and endpoint operations'),
    network,
    storage,
    security,
    pipelines,
    training,
    endpointsStackName: name('endpoints'),
  });
  const endpoints =
    config.serving.variants.length > 0 || config.serving.sharedEndpoint
      ? new EndpointsStack(stage, name('endpoints'), {
          ...common('endpoints', 'Real-time endpoint (A/B variants, guarded rollout)'),
          network,
          storage,
          security,
        })
      : undefined;

  const monitoring = new MonitoringStack(stage, name('monitoring'), {
    ...common('monitoring', 'Capture monitor, alarms and dashboard'),
    network,
    storage,
    security,
    training,
    pipelines,
    endpoints,
  });
  // The job image and code are the training stack's assets: published with it, before any stack runs them.
  for (const user of [pipelines, bedrock, registry, monitoring]) user.addStackDependency(training, 'runs the job image and code of the training stack');
  // Deployed after the endpoints it watches, so a new variant is served before its alarms expect reports.
  if (endpoints) monitoring.addStackDependency(endpoints);

  const api = config.api
    ? new ApiStack(stage, name('api'), {
        ...common('api', 'Inference API (API keys, usage plans, web ACL, usage dashboard)'),
        api: config.api,
        network,
        security,
      })
    : undefined;
  // Deployed after the endpoints it calls, so a new model is served before the API lists it.
  if (api && endpoints) api.addStackDependency(endpoints, 'calls its endpoints and inference components by name');

  const stacks = [...(dr ? [dr] : []), network, storage, security, training, pipelines, bedrock, registry, ...(endpoints ? [endpoints] : []), monitoring, ...(api ? [api] : [])];
  const delivery = config.delivery && !failover
    ? new DeliveryStack(stage, name('delivery'), { ...common('delivery', 'GitHub Actions deploy role and CloudFormation execution policy'), deploys: stacks })
    : undefined;
  for (const stack of delivery ? [...stacks, delivery] : stacks) {
    for (const [key, value] of Object.entries(config.tags)) Tags.of(stack).add(key, value);
  }
  return { network, storage, security, training, pipelines, bedrock, registry, endpoints, monitoring, api, dr, delivery, stacks };
}
