import { CustomResource, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeNag } from './compliance';
import { MlBucket } from './ml-bucket';
import { MlServiceRole } from './ml-service-role';
import { PlatformFunction } from './platform-function';

/** S3 prefixes of the invocation logs inside the bucket. */
export const INVOCATION_LOG_PREFIXES = { records: 'bedrock-invocations/', largeData: 'bedrock-invocations/large-data/' } as const;

export interface BedrockInvocationLoggingProps {
  /** The bucket the logs go to, prepared with `admitBedrockInvocationLogs`. */
  readonly bucket: MlBucket;
  /** Encrypts the log group; must admit CloudWatch Logs. */
  readonly key: kms.IKey;
  readonly logGroupName: string;
  readonly retention: logs.RetentionDays;
  /** Runs training.bedrock.handlers.invocation_logging_resource. */
  readonly handler: PlatformFunction;
}

/**
 * Lets Bedrock write invocation logs into `bucket` under INVOCATION_LOG_PREFIXES.records, encrypted with
 * `key`, for this account only. Bedrock writes the S3 copies itself (no role), so the bucket and the key
 * must admit the service; called by the stack that owns both.
 */
export function admitBedrockInvocationLogs(bucket: s3.IBucket, key: kms.Key): void {
  const stack = Stack.of(bucket);
  const fromBedrockHere = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'bedrock', resource: '*' }) },
  };
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowBedrockInvocationLogsFromThisAccount',
      principals: [new iam.ServicePrincipal('bedrock.amazonaws.com')],
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects(`${INVOCATION_LOG_PREFIXES.records}*`)],
      conditions: fromBedrockHere,
    }),
  );
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowBedrockInvocationLogsFromThisAccount',
      principals: [new iam.ServicePrincipal('bedrock.amazonaws.com')],
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: ['*'],
      conditions: fromBedrockHere,
    }),
  );
}

/**
 * Bedrock model invocation logging of the account in this region (CloudFormation has no resource type for
 * it): every model call, custom models included, goes to a KMS-encrypted log group and bucket. A custom
 * resource puts the configuration on create and update and deletes it on delete.
 */
export class BedrockInvocationLogging extends Construct {
  readonly logGroup: logs.LogGroup;
  readonly deliveryRole: MlServiceRole;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: BedrockInvocationLoggingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: props.logGroupName,
      encryptionKey: props.key,
      retention: props.retention,
    });
    this.deliveryRole = new MlServiceRole(this, 'DeliveryRole', {
      description: 'Bedrock writes model invocation logs to CloudWatch Logs',
      trust: { service: 'bedrock.amazonaws.com', sourceArnPattern: stack.formatArn({ service: 'bedrock', resource: '*' }) },
    });
    this.deliveryRole.allowLogGroup(this.logGroup);

    const bucket = props.bucket.bucket;

    const fnRole = props.handler.role;
    fnRole.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['bedrock:PutModelInvocationLoggingConfiguration', 'bedrock:DeleteModelInvocationLoggingConfiguration'],
        resources: ['*'],
      }),
    );
    fnRole.allowPassRole('bedrock.amazonaws.com', this.deliveryRole.role);
    acknowledgeNag(fnRole, {
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'The invocation-logging configuration is one setting per account and region with no resource ARN; Put/DeleteModelInvocationLoggingConfiguration accept only *',
    });

    this.resource = new CustomResource(this, 'Configuration', {
      serviceToken: props.handler.fn.functionArn,
      resourceType: 'Custom::BedrockInvocationLogging',
      properties: {
        Region: stack.region,
        LogGroupName: this.logGroup.logGroupName,
        LoggingRoleArn: this.deliveryRole.role.roleArn,
        BucketName: bucket.bucketName,
        KeyPrefix: INVOCATION_LOG_PREFIXES.records,
        LargeDataPrefix: INVOCATION_LOG_PREFIXES.largeData,
      },
    });
    // Bedrock checks the role and the bucket policy when the configuration is put.
    this.resource.node.addDependency(this.deliveryRole, bucket, props.handler);
  }
}
