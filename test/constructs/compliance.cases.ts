import { Aws, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import {
  acknowledgeNag,
  acknowledgeRuleInPacks,
  iam5ResourceFinding,
  REGULATORY_PACKS,
  skipCheckov,
} from '../../lib/constructs/compliance';
import { testStack } from '../support/app';

const REASON = 'The ECR token API has no resource-level permissions';
const REPLICA = 'This is the replica in the DR region; replicating it onward would need a third region';

/** Acknowledgements recorded on exactly this construct (not its children). */
function acksOn(scope: IConstruct): Record<string, string> {
  const found: Record<string, string> = {};
  for (const entry of scope.node.metadata) {
    if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(found, entry.data as Record<string, string>);
  }
  return found;
}

describe('acknowledgeNag', () => {
  test('records the acknowledgement with its reason on the given construct only', () => {
    const stack = testStack();
    const queue = new sqs.Queue(stack, 'Queue');
    acknowledgeNag(queue, { id: 'AwsSolutions::AwsSolutions-SQS3', reason: REASON });
    expect(acksOn(queue)).toEqual({ 'AwsSolutions::AwsSolutions-SQS3': REASON });
    expect(acksOn(stack)).toEqual({});
    expect(acksOn(queue.node.defaultChild!)).toEqual({});
  });

  test.each([
    'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    'HIPAA.Security::HIPAA.Security-IAMNoInlinePolicy',
    'NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled',
  ])('accepts the report form %s', (id) => {
    const stack = testStack();
    expect(() => acknowledgeNag(stack, { id, reason: REASON })).not.toThrow();
  });

  test.each(['AwsSolutions-IAM5', 'IAM5', 'AwsSolutions::IAM5', 'AwsSolutions:AwsSolutions-IAM5', 'AwsSolutions::AwsSolutions-IAM5[]'])(
    'rejects id %j that is not Pack::Rule',
    (id) => {
      expect(() => acknowledgeNag(testStack(), { id, reason: REASON })).toThrow(
        /acknowledgement id must look like 'AwsSolutions::AwsSolutions-S1'/,
      );
    },
  );

  test('rejects a reason shorter than 20 characters (whitespace not counted)', () => {
    const stack = testStack();
    const queue = new sqs.Queue(stack, 'Queue');
    expect(() => acknowledgeNag(queue, { id: 'AwsSolutions::AwsSolutions-SQS3', reason: '   not needed here    ' })).toThrow(
      /acknowledgement AwsSolutions::AwsSolutions-SQS3 on TestStack\/Queue needs a reason of at least 20 characters/,
    );
    expect(acksOn(queue)).toEqual({});
  });
});

describe('acknowledgeRuleInPacks', () => {
  test('acknowledges the rule in each regulatory pack with the same reason', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    acknowledgeRuleInPacks(bucket, 'S3BucketReplicationEnabled', REPLICA);
    expect(REGULATORY_PACKS).toEqual(['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']);
    expect(acksOn(bucket)).toEqual({
      'HIPAA.Security::HIPAA.Security-S3BucketReplicationEnabled': REPLICA,
      'NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled': REPLICA,
      'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled': REPLICA,
    });
  });

  test('takes an explicit pack list and still checks the reason', () => {
    const stack = testStack();
    acknowledgeRuleInPacks(stack, 'SQS3', REASON, ['AwsSolutions']);
    expect(acksOn(stack)).toEqual({ 'AwsSolutions::AwsSolutions-SQS3': REASON });
    expect(() => acknowledgeRuleInPacks(stack, 'SQS3', 'short', ['AwsSolutions'])).toThrow(/needs a reason of at least 20 characters/);
  });
});

describe('skipCheckov', () => {
  const COMMENT = 'This is the access-log destination bucket';

  test('writes the skip into the CloudFormation resource metadata, appending to earlier skips', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    skipCheckov(bucket, { id: 'CKV_AWS_18', comment: COMMENT });
    skipCheckov(bucket, { id: 'CKV2_AWS_62', comment: 'Events are not needed for this bucket' });
    Template.fromStack(stack).hasResource('AWS::S3::Bucket', {
      Metadata: {
        checkov: {
          skip: [
            { id: 'CKV_AWS_18', comment: COMMENT },
            { id: 'CKV2_AWS_62', comment: 'Events are not needed for this bucket' },
          ],
        },
      },
    });
  });

  test('accepts the CfnResource itself', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    skipCheckov(bucket.node.defaultChild as s3.CfnBucket, { id: 'CKV_AWS_21', comment: COMMENT });
    Template.fromStack(stack).hasResource('AWS::S3::Bucket', { Metadata: { checkov: { skip: [{ id: 'CKV_AWS_21', comment: COMMENT }] } } });
  });

  test.each(['CKV_AWS_', 'CKV_GCP_18', 'ckv_aws_18', 'CKV3_AWS_1', 'AwsSolutions-S1'])('rejects check id %j', (id) => {
    const bucket = new s3.Bucket(testStack(), 'Bucket');
    expect(() => skipCheckov(bucket, { id, comment: COMMENT })).toThrow(/checkov id must look like CKV_AWS_18/);
  });

  test('rejects a comment shorter than 20 characters and records nothing', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    expect(() =>
      skipCheckov(bucket, { id: 'CKV_AWS_18', comment: COMMENT }, { id: 'CKV_AWS_21', comment: '  too short  ' }),
    ).toThrow(/checkov skip CKV_AWS_21 on TestStack\/Bucket needs a comment of at least 20 characters/);
    expect((bucket.node.defaultChild as s3.CfnBucket).getMetadata('checkov')).toBeUndefined();
  });

  test('rejects a construct without a CloudFormation resource', () => {
    const stack = testStack();
    const empty = new Construct(stack, 'Empty');
    expect(() => skipCheckov(empty, { id: 'CKV_AWS_18', comment: COMMENT })).toThrow(
      /TestStack\/Empty has no CloudFormation resource to annotate/,
    );
  });
});

describe('iam5ResourceFinding', () => {
  test('renders a literal resource as is', () => {
    expect(iam5ResourceFinding(testStack(), '*')).toBe('AwsSolutions::AwsSolutions-IAM5[Resource::*]');
  });

  test('renders Refs as <Name> and flattens joins, like cdk-nag', () => {
    const stack = testStack();
    const arn = Stack.of(stack).formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' });
    expect(iam5ResourceFinding(stack, arn)).toBe(
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:ec2:us-east-1:<AWS::AccountId>:network-interface/*]',
    );
    expect(iam5ResourceFinding(stack, `arn:${Aws.PARTITION}:s3:::fmft-dev-data/datasets/*`)).toBe(
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::fmft-dev-data/datasets/*]',
    );
  });

  test('renders GetAtt as <Logical.Attribute>', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    const id = stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
    expect(iam5ResourceFinding(stack, `${bucket.bucketArn}/data/*`)).toBe(
      `AwsSolutions::AwsSolutions-IAM5[Resource::<${id}.Arn>/data/*]`,
    );
  });
});
