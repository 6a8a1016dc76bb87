import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { resourceName } from '../config/naming';
import { batchingEnvironment, servingImage } from '../config/serving-images';
import { STORAGE_LAYOUT } from '../config/storage-layout';
import { LlmEndpoint } from '../constructs/llm-endpoint';
import { MonitorTarget } from '../constructs/monitoring/capture-monitor';
import { SHARED_ENDPOINT_VARIANT, SharedModelEndpoint } from '../constructs/shared-model-endpoint';
import { NetworkStack } from './network-stack';
import { SecurityStack } from './security-stack';
import { addOutputs } from './outputs';
import { StorageStack } from './storage-stack';

export interface EndpointsStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
}

/**
 * The environment's real-time endpoints: the registered versions of `serving.variants` as A/B variants behind
 * guarded rollout, and optionally several models on one shared endpoint as inference components.
 */
export class EndpointsStack extends Stack {
  /** The A/B endpoint of `serving.variants`, when any is listed. */
  readonly endpoint?: LlmEndpoint;
  /** The multi-model endpoint of `serving.sharedEndpoint`, when configured. */
  readonly shared?: SharedModelEndpoint;
  /**
   * What the capture monitor watches: each A/B variant with its model version (whose baseline is the
   * reference), and the shared endpoint's one variant, whose components' capture arrives together (output
   * health only). Plain names from the config, so the monitoring stack needs no export of this stack; the ARNs
   * are the config's, not the deployed parameter values (a parameter cannot be read at synth).
   */
  readonly monitorTargets: readonly MonitorTarget[];

  constructor(scope: Construct, id: string, props: EndpointsStackProps) {
    super(scope, id, props);
    const { config, network, storage, security } = props;
    const s = config.serving;
    const net = network.network;
    const common = {
      executionRole: security.roles.deployment.role,
      subnetIds: net.subnetsFor('inference').subnetIds,
      securityGroupIds: [net.securityGroups.inference.securityGroupId],
      key: storage.dataKey,
      dataCaptureUri: storage.buckets.modelArtifacts.bucket.s3UrlForObject(STORAGE_LAYOUT.modelArtifacts.prefixes.dataCapture),
    };
    const environment = batchingEnvironment(s.container, s.batching);
    const endpointName = resourceName(config, 'llm');
    const sharedEndpointName = resourceName(config, 'llm-shared');
    this.monitorTargets = [
      ...s.variants.map((v) => ({ endpointName, variantName: v.name, modelPackageArn: v.modelPackageArn })),
      ...(s.sharedEndpoint ? [{ endpointName: sharedEndpointName, variantName: SHARED_ENDPOINT_VARIANT }] : []),
    ];
    if (s.variants.length > 0) {
      this.endpoint = new LlmEndpoint(this, 'Endpoint', {
        ...common,
        endpointName,
        serving: s,
        image: { uri: s.imageUri ?? servingImage(s.container, this.region), environment },
        topic: security.alerts.topic,
      });
    }
    if (s.sharedEndpoint) {
      this.shared = new SharedModelEndpoint(this, 'Shared', {
        ...common,
        endpointName: sharedEndpointName,
        shared: s.sharedEndpoint,
        dataCapturePercent: s.dataCapturePercent,
        environment,
        rollout: s.rollout,
        topic: security.alerts.topic,
      });
    }
    addOutputs(this, {
      ...(this.endpoint
        ? {
            EndpointName: { value: this.endpoint.endpoint.attrEndpointName, description: 'The production endpoint (A/B variants)' },
            ServedVariants: {
              value: JSON.stringify(this.endpoint.servedVariants),
              description: 'The A/B variants in config order as JSON [{variant, parameter, weight}]: the parameter holds the model package ARN the promotion workflow updates',
            },
          }
        : {}),
      ...(this.shared ? { SharedEndpointName: { value: this.shared.endpoint.attrEndpointName, description: 'The endpoint of the inference components' } } : {}),
    });
  }
}
