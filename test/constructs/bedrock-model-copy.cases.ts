import { Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { BedrockModelCopy, BedrockModelCopyProps } from '../../lib/constructs/bedrock-model-copy';
import { testApp } from '../support/app';

/** The workflow itself is tested in the DR stack (test/environments/dr.cases.ts); here, its props' checks. */
describe('BedrockModelCopy props', () => {
  const copy = (change: Partial<BedrockModelCopyProps>) => {
    const stack = new Stack(testApp(), 'Dr', { env: { region: 'us-west-2', account: '111122223333' } });
    const key = new kms.Key(stack, 'Key');
    return () =>
      new BedrockModelCopy(stack, 'Copy', {
        stateMachineName: 'fmft-dev-bedrock-model-copy',
        sourceRegion: 'us-east-1',
        modelKey: key,
        logKey: key,
        logRetention: logs.RetentionDays.ONE_MONTH,
        topic: new sns.Topic(stack, 'Topic'),
        tags: {},
        deadLetterQueue: new sqs.Queue(stack, 'Queue'),
        ...change,
      });
  };

  test('valid props build', () => {
    expect(copy({})).not.toThrow();
  });

  test('a copy needs another region to copy from', () => {
    expect(copy({ sourceRegion: 'us-west-2' })).toThrow(/sourceRegion: got 'us-west-2'; allowed: another region than this stack's/);
  });

  test('the state machine name is one Step Functions accepts', () => {
    expect(copy({ stateMachineName: 'has space' })).toThrow(/stateMachineName: got 'has space'; allowed: 1 to 80 letters, digits, - and _/);
  });
});
