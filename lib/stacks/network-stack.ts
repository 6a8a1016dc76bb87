import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { keyAlias } from '../config/naming';
import { PlatformKey } from '../constructs/platform-key';
import { PrivateNetwork } from '../constructs/private-network';

export interface NetworkStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/** The private network every job and endpoint runs in, and the key of its flow logs. */
export class NetworkStack extends Stack {
  readonly network: PrivateNetwork;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    const flowLogKey = new PlatformKey(this, 'FlowLogKey', {
      aliasName: keyAlias(config, 'flow-logs'),
      description: `VPC flow logs of ${config.name}`,
      rotationPeriodDays: config.encryption.keyRotationPeriodDays,
      deletionWindowDays: config.encryption.keyDeletionWindowDays,
      retainOnDelete: config.storage.retainOnDelete,
      allowCloudWatchLogs: true,
    });
    this.network = new PrivateNetwork(this, 'Network', {
      config: config.network,
      flowLogKey: flowLogKey.key,
      retainOnDelete: config.storage.retainOnDelete,
    });
  }
}
