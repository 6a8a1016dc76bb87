import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { PrivateNetwork } from '../constructs/private-network';
import { environmentKey } from './environment-key';

export interface NetworkStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/** The private network every job and endpoint runs in, and the key of its flow logs. */
export class NetworkStack extends Stack {
  readonly network: PrivateNetwork;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    const flowLogKey = environmentKey(this, 'FlowLogKey', config, 'flow-logs', 'VPC flow logs', { allowCloudWatchLogs: true });
    this.network = new PrivateNetwork(this, 'Network', {
      config: config.network,
      flowLogKey: flowLogKey.key,
      retainOnDelete: config.storage.retainOnDelete,
      // The inference API's answer cache is a DynamoDB table.
      dynamoDbGateway: config.api?.cache !== undefined,
      executeApiClientCidrs: config.api?.endpointType === 'private' ? config.api.privateClientCidrs : undefined,
    });
  }
}
