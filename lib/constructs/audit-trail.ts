import { RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { LOG_RETENTION_DAYS } from '../config/environment-config';
import { acknowledgeRuleInPacks } from './compliance';
import { MlBucket } from './ml-bucket';

export interface AuditTrailProps {
  /** Name of the trail; its delivery role admits CloudTrail for this trail only. @default - generated */
  readonly trailName?: string;
  /**
   * Encrypts the trail's files and its log group; its policy must allow CloudWatch Logs. This construct adds
   * the statement that lets CloudTrail encrypt this account's trail files with it.
   */
  readonly key: kms.Key;
  /** Destination of the S3 server access logs of the trail bucket. */
  readonly accessLogsBucket: s3.IBucket;
  /** Buckets whose object reads and writes are recorded as data events. */
  readonly dataEventBuckets: s3.IBucket[];
  /** Days to keep trail events in CloudWatch Logs. */
  readonly logRetentionDays: number;
  /** Days to keep noncurrent trail files in S3. */
  readonly noncurrentVersionExpirationDays: number;
  /** Keep the trail bucket and log group when the stack is deleted. @default true */
  readonly retainOnDelete?: boolean;
}

/**
 * A multi-region CloudTrail trail with log file validation, KMS encryption, delivery to CloudWatch Logs and
 * S3 data events for the ML buckets, so every read of training data and every model write is on record.
 */
export class AuditTrail extends Construct {
  readonly trail: cloudtrail.Trail;
  readonly bucket: MlBucket;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    const problems: string[] = [];
    if (props.dataEventBuckets.length === 0) problems.push('dataEventBuckets must list at least one bucket');
    if (!Token.isUnresolved(props.logRetentionDays) && !(LOG_RETENTION_DAYS as readonly number[]).includes(props.logRetentionDays)) {
      problems.push(`logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${props.logRetentionDays}`);
    }
    if (problems.length) throw new Error(`Invalid AuditTrail props:\n- ${problems.join('\n- ')}`);
    const removalPolicy = props.retainOnDelete === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    this.bucket = new MlBucket(this, 'TrailBucket', {
      encryptionKey: props.key,
      accessLogsBucket: props.accessLogsBucket,
      noncurrentVersionExpirationDays: props.noncurrentVersionExpirationDays,
      abortIncompleteUploadDays: 1,
      retainOnDelete: props.retainOnDelete,
      replication: {
        exemption:
          'Trail log files are evidence, not data the platform restores from: the multi-region trail also delivers every event to CloudWatch Logs (audit.trailLogRetentionDays), and CloudTrail event history keeps 90 days in every region',
      },
    });
    this.logGroup = new logs.LogGroup(this, 'TrailLogGroup', {
      encryptionKey: props.key,
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy,
    });
    const account = Stack.of(this).account;
    // Trail creation fails unless CloudTrail may create data keys for this account's trails.
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailToEncryptThisAccountsTrails',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          StringLike: {
            'kms:EncryptionContext:aws:cloudtrail:arn': Stack.of(this).formatArn({
              service: 'cloudtrail',
              region: '*',
              resource: 'trail',
              resourceName: '*',
            }),
          },
        },
      }),
    );
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailToDescribeKey',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:DescribeKey'],
        resources: ['*'],
      }),
    );
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: props.trailName,
      bucket: this.bucket.bucket,
      encryptionKey: props.key,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableFileValidation: true,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: this.logGroup,
    });
    this.limitDeliveryRoleToThisTrail(props.trailName);
    acknowledgeRuleInPacks(
      this.trail,
      'IAMNoInlinePolicy',
      'The Trail construct writes its delivery role policy itself: CreateLogStream and PutLogEvents on the one trail log group only',
    );
    this.trail.addS3EventSelector(
      props.dataEventBuckets.map((bucket) => ({ bucket })),
      { readWriteType: cloudtrail.ReadWriteType.ALL, includeManagementEvents: true },
    );
  }

  /**
   * The Trail construct creates the CloudWatch Logs delivery role with a bare service principal and takes no
   * role of ours, so its trust statement gets the confused-deputy conditions here: CloudTrail may assume the
   * role for this account's trail only (CloudTrail's "Cross-service confused deputy prevention" page).
   */
  private limitDeliveryRoleToThisTrail(trailName: string | undefined): void {
    const stack = Stack.of(this);
    const role = this.trail.node.findChild('LogsRole') as iam.Role;
    const trailArn = stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: trailName ?? '*' });
    (role.node.defaultChild as iam.CfnRole).addPropertyOverride('AssumeRolePolicyDocument.Statement.0.Condition', {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': trailArn },
    });
  }
}
