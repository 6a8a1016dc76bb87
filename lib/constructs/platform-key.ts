import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface PlatformKeyProps {
  /** Alias without the `alias/` prefix, e.g. `fmft/dev/data`. */
  readonly aliasName: string;
  /** What the key protects, shown in the console. */
  readonly description: string;
  /** Days between automatic rotations (90 to 2560). */
  readonly rotationPeriodDays: number;
  /** Days a deleted key waits before it is destroyed (7 to 30). */
  readonly deletionWindowDays: number;
  /** Keep the key when the stack is deleted. @default true */
  readonly retainOnDelete?: boolean;
  /**
   * Let CloudWatch Logs in this account and region use the key for log groups. Scoped by the
   * `kms:EncryptionContext:aws:logs:arn` condition, so no other service or account can use it this way.
   * @default false
   */
  readonly allowCloudWatchLogs?: boolean;
}

/** A customer managed KMS key with rotation on, a stable alias and an optional CloudWatch Logs grant. */
export class PlatformKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: PlatformKeyProps) {
    super(scope, id);
    const problems: string[] = [];
    if (props.rotationPeriodDays < 90 || props.rotationPeriodDays > 2560) {
      problems.push(`rotationPeriodDays must be from 90 to 2560, got ${props.rotationPeriodDays}`);
    }
    if (props.deletionWindowDays < 7 || props.deletionWindowDays > 30) {
      problems.push(`deletionWindowDays must be from 7 to 30, got ${props.deletionWindowDays}`);
    }
    if (!/^[a-zA-Z0-9/_-]+$/.test(props.aliasName) || props.aliasName.startsWith('aws/')) {
      problems.push(`aliasName must be letters, digits, / _ - and not start with aws/, got '${props.aliasName}'`);
    }
    if (problems.length) throw new Error(`Invalid PlatformKey props:\n- ${problems.join('\n- ')}`);

    this.key = new kms.Key(this, 'Key', {
      description: props.description,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(props.rotationPeriodDays),
      pendingWindow: Duration.days(props.deletionWindowDays),
      alias: `alias/${props.aliasName}`,
      removalPolicy: props.retainOnDelete === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    if (props.allowCloudWatchLogs) {
      const stack = Stack.of(this);
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchLogsInThisAccount',
          principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
          actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          resources: ['*'],
          conditions: {
            ArnLike: {
              'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
                service: 'logs',
                resource: 'log-group',
                resourceName: '*',
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            },
          },
        }),
      );
    }
  }
}
