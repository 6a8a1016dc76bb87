import * as path from 'path';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AccessLogBucket } from '../../lib/constructs/access-log-bucket';
import { MlBucket } from '../../lib/constructs/ml-bucket';
import { pythonHandlersCode } from '../../lib/constructs/python-handlers-code';
import { RegistryExport } from '../../lib/constructs/registry-export';
import { testStack } from '../support/app';

/** What the function may do and what starts it are tested in the registry stack (test/environments/dr.cases.ts); here, its props' checks. */
describe('RegistryExport props', () => {
  const make = (group: string) => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key');
    const exemption = { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' };
    const bucket = new MlBucket(stack, 'Artifacts', {
      encryptionKey: key,
      accessLogsBucket: new AccessLogBucket(stack, 'AccessLogs', { expirationDays: 30, replication: exemption }).bucket,
      noncurrentVersionExpirationDays: 30,
      abortIncompleteUploadDays: 7,
      replication: exemption,
    });
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, restrictDefaultSecurityGroup: false, subnetConfiguration: [{ name: 'jobs', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    return () =>
      new RegistryExport(stack, 'Export', {
        modelPackageGroupName: group,
        artifactsBucket: bucket,
        code: pythonHandlersCode(path.join(__dirname, '..', '..', 'training')),
        placement: { vpc, subnets: vpc.isolatedSubnets, securityGroups: [new ec2.SecurityGroup(stack, 'Sg', { vpc })] },
        key,
        logRetention: logs.RetentionDays.ONE_MONTH,
        deadLetterQueue: new sqs.Queue(stack, 'Queue'),
      });
  };

  test('valid props build', () => {
    expect(make('fmft-dev-fine-tuning-models')).not.toThrow();
  });

  test('the group name is one SageMaker accepts', () => {
    expect(make('bad_group')).toThrow(/modelPackageGroupName: got 'bad_group'; allowed: 1 to 63 letters, digits and hyphens/);
  });
});
