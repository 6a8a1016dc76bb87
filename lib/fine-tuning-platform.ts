import { Stage, StageProps, Tags } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentConfig } from './config/environment-config';
import { environmentPrefix } from './config/naming';
import { BedrockStack } from './stacks/bedrock-stack';
import { EndpointsStack } from './stacks/endpoints-stack';
import { NetworkStack } from './stacks/network-stack';
import { PipelinesStack } from './stacks/pipelines-stack';
import { RegistryStack } from './stacks/registry-stack';
import { SecurityStack } from './stacks/security-stack';
import { StorageStack } from './stacks/storage-stack';

export interface FineTuningStageProps extends StageProps {
  /** A validated environment config (see `loadEnvironmentConfig`). */
  readonly config: EnvironmentConfig;
}

/**
 * Every stack of one environment. The same stage serves `cdk deploy` from a workstation and a CDK Pipelines
 * deployment; stacks get what they need from each other through props.
 */
export class FineTuningStage extends Stage {
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
  readonly pipelines: PipelinesStack;
  readonly bedrock: BedrockStack;
  readonly registry: RegistryStack;
  /** Exists once `serving` names a registered version to serve (the registry starts empty). */
  readonly endpoints?: EndpointsStack;

  constructor(scope: Construct, id: string, props: FineTuningStageProps) {
    super(scope, id, props);
    const { config } = props;
    const name = (stack: string) => `${environmentPrefix(config)}-${stack}`;

    this.network = new NetworkStack(this, 'Network', {
      config,
      stackName: name('network'),
      description: `Private network of the ${config.name} fine-tuning platform`,
    });
    this.storage = new StorageStack(this, 'Storage', {
      config,
      stackName: name('storage'),
      description: `Keys and buckets of the ${config.name} fine-tuning platform`,
    });
    this.security = new SecurityStack(this, 'Security', {
      config,
      network: this.network,
      storage: this.storage,
      stackName: name('security'),
      description: `Roles, audit trail, image repository and alerts of the ${config.name} fine-tuning platform`,
    });
    this.pipelines = new PipelinesStack(this, 'Pipelines', {
      config,
      network: this.network,
      storage: this.storage,
      security: this.security,
      stackName: name('pipelines'),
      description: `SageMaker fine-tuning pipeline of the ${config.name} fine-tuning platform`,
    });

    this.bedrock = new BedrockStack(this, 'Bedrock', {
      config,
      network: this.network,
      storage: this.storage,
      security: this.security,
      pipelines: this.pipelines,
      stackName: name('bedrock'),
      description: `Bedrock customization, invocation logging and throughput guard of the ${config.name} fine-tuning platform`,
    });

    this.registry = new RegistryStack(this, 'Registry', {
      config,
      network: this.network,
      storage: this.storage,
      security: this.security,
      pipelines: this.pipelines,
      stackName: name('registry'),
      description: `Model approval workflow (staging deployment) and endpoint operations of the ${config.name} fine-tuning platform`,
    });

    if (config.serving.variants.length > 0 || config.serving.sharedEndpoint) {
      this.endpoints = new EndpointsStack(this, 'Endpoints', {
        config,
        network: this.network,
        storage: this.storage,
        security: this.security,
        stackName: name('endpoints'),
        description: `Real-time endpoint (A/B variants, guarded rollout) of the ${config.name} fine-tuning platform`,
      });
    }

    for (const [key, value] of Object.entries(config.tags)) Tags.of(this).add(key, value);
  }
}
