import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { resourceName } from '../config/naming';
import { batchingEnvironment, servingImage } from '../config/serving-images';
import { STORAGE_LAYOUT } from '../config/storage-layout';
import { LlmEndpoint } from '../constructs/llm-endpoint';
import { NetworkStack } from './network-stack';
import { SecurityStack } from './security-stack';
import { StorageStack } from './storage-stack';

export interface EndpointsStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
}

/** The environment's real-time endpoint: the registered versions of `serving.variants` behind guarded rollout. */
export class EndpointsStack extends Stack {
  readonly endpoint: LlmEndpoint;

  constructor(scope: Construct, id: string, props: EndpointsStackProps) {
    super(scope, id, props);
    const { config, network, storage, security } = props;
    const s = config.serving;
    const net = network.network;
    this.endpoint = new LlmEndpoint(this, 'Endpoint', {
      endpointName: resourceName(config, 'llm'),
      serving: s,
      image: { uri: s.imageUri ?? servingImage(s.container, this.region), environment: batchingEnvironment(s.container, s.batching) },
      executionRole: security.roles.deployment.role,
      subnetIds: net.subnetsFor('inference').subnetIds,
      securityGroupIds: [net.securityGroups.inference.securityGroupId],
      key: storage.dataKey,
      dataCaptureUri: storage.buckets.modelArtifacts.bucket.s3UrlForObject(STORAGE_LAYOUT.modelArtifacts.prefixes.dataCapture),
      topic: security.alerts.topic,
    });
  }
}
