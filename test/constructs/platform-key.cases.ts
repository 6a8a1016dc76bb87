import { Match, Template } from 'aws-cdk-lib/assertions';
import { PlatformKey, PlatformKeyProps } from '../../lib/constructs/platform-key';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { testStack } from '../support/app';

const VALID: PlatformKeyProps = {
  aliasName: 'fmft/dev/data',
  description: 'Encrypts ML data',
  rotationPeriodDays: ENVIRONMENTS.dev.encryption.keyRotationPeriodDays,
  deletionWindowDays: ENVIRONMENTS.dev.encryption.keyDeletionWindowDays,
};

function synth(props: Partial<PlatformKeyProps> = {}): Template {
  const stack = testStack();
  new PlatformKey(stack, 'DataKey', { ...VALID, ...props });
  return Template.fromStack(stack);
}

function build(props: Partial<PlatformKeyProps>): () => void {
  return () => new PlatformKey(testStack(), 'DataKey', { ...VALID, ...props });
}

describe('PlatformKey', () => {
  describe('defaults', () => {
    const template = synth({ rotationPeriodDays: 180, deletionWindowDays: 14 });

    test('one key with rotation on at the configured period and deletion window', () => {
      template.resourceCountIs('AWS::KMS::Key', 1);
      template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        RotationPeriodInDays: 180,
        PendingWindowInDays: 14,
        Description: 'Encrypts ML data',
      });
    });

    test('alias gets the alias/ prefix and targets the key', () => {
      template.resourceCountIs('AWS::KMS::Alias', 1);
      template.hasResourceProperties('AWS::KMS::Alias', {
        AliasName: 'alias/fmft/dev/data',
        TargetKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] },
      });
    });

    test('key is retained on stack deletion', () => {
      template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });

    test('no CloudWatch Logs statement unless asked for', () => {
      const key = Object.values(template.findResources('AWS::KMS::Key'))[0];
      const statements = key.Properties.KeyPolicy.Statement as Array<Record<string, unknown>>;
      expect(statements.map((s) => s.Sid)).not.toContain('AllowCloudWatchLogsInThisAccount');
      expect(JSON.stringify(statements)).not.toContain('logs.');
    });
  });

  test('retainOnDelete false deletes the key with the stack', () => {
    synth({ retainOnDelete: false }).hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
  });

  test('allowCloudWatchLogs lets the regional logs service use the key only for this account\'s log groups', () => {
    synth({ allowCloudWatchLogs: true }).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowCloudWatchLogsInThisAccount',
            Effect: 'Allow',
            Principal: { Service: 'logs.us-east-1.amazonaws.com' },
            Action: ['kms:Decrypt*', 'kms:Describe*', 'kms:Encrypt*', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
            Resource: '*',
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': ['', ['arn:aws:logs:us-east-1:', { Ref: 'AWS::AccountId' }, ':log-group:*']],
                },
              },
            },
          },
        ]),
      },
    });
  });

  describe('validation', () => {
    test('accepts the boundaries 90/2560 days of rotation and 7/30 days of deletion window', () => {
      expect(build({ rotationPeriodDays: 90, deletionWindowDays: 7 })).not.toThrow();
      expect(build({ rotationPeriodDays: 2560, deletionWindowDays: 30 })).not.toThrow();
    });

    test.each([89, 2561])('rotationPeriodDays %d is rejected', (days) => {
      expect(build({ rotationPeriodDays: days })).toThrow(new RegExp(`rotationPeriodDays must be from 90 to 2560, got ${days}`));
    });

    test.each([6, 31])('deletionWindowDays %d is rejected', (days) => {
      expect(build({ deletionWindowDays: days })).toThrow(new RegExp(`deletionWindowDays must be from 7 to 30, got ${days}`));
    });

    test.each(['fmft dev', 'fmft:dev', 'aws/fmft', ''])('aliasName %j is rejected', (aliasName) => {
      expect(build({ aliasName })).toThrow(/aliasName must be letters, digits, \/ _ - and not start with aws\//);
    });

    test('every problem is reported in one error', () => {
      expect(build({ rotationPeriodDays: 1, deletionWindowDays: 1, aliasName: 'aws/x' })).toThrow(
        /Invalid PlatformKey props:\n- rotationPeriodDays.*\n- deletionWindowDays.*\n- aliasName/,
      );
    });
  });
});
