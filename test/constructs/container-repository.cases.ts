import { CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ContainerRepository, ContainerRepositoryProps } from '../../lib/constructs/container-repository';
import { testStack } from '../support/app';

function build(props: Partial<ContainerRepositoryProps> = {}) {
  const stack = testStack();
  const key = new kms.Key(stack, 'ImageKey');
  const repo = new ContainerRepository(stack, 'TrainingImages', { repositoryName: 'fmft-dev/training', encryptionKey: key, ...props });
  return { stack, key, repo };
}

function lifecycleRules(template: Template): any[] {
  const repo = Object.values(template.findResources('AWS::ECR::Repository'))[0];
  return JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
}

describe('ContainerRepository', () => {
  const { stack, key } = build();
  const template = Template.fromStack(stack);

  test('KMS encryption with the given key, scan on push, immutable tags', () => {
    template.resourceCountIs('AWS::ECR::Repository', 1);
    template.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryName: 'fmft-dev/training',
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: { 'Fn::GetAtt': [Stack.of(key).getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] } },
      ImageScanningConfiguration: { ScanOnPush: true },
      ImageTagMutability: 'IMMUTABLE',
    });
  });

  test('untagged images expire after 14 days by default; nothing else expires', () => {
    expect(lifecycleRules(template)).toEqual([
      {
        rulePriority: 1,
        description: 'Expire untagged images',
        selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 14, countUnit: 'days' },
        action: { type: 'expire' },
      },
    ]);
  });

  test('retained (and not emptied) on stack deletion by default', () => {
    template.hasResource('AWS::ECR::Repository', {
      Properties: { EmptyOnDelete: false },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('untaggedImageExpirationDays sets the expiry', () => {
    const t = Template.fromStack(build({ untaggedImageExpirationDays: 3 }).stack);
    expect(lifecycleRules(t)[0].selection.countNumber).toBe(3);
  });

  test('retainOnDelete false deletes and empties the repository', () => {
    Template.fromStack(build({ retainOnDelete: false }).stack).hasResource('AWS::ECR::Repository', {
      Properties: { EmptyOnDelete: true },
      DeletionPolicy: 'Delete',
    });
  });

  describe('validation', () => {
    test.each(['fmft-dev/training', 'training', 'a/b/c', 'fmft.dev_x/train-ing'])('repositoryName %j is accepted', (repositoryName) => {
      expect(() => build({ repositoryName })).not.toThrow();
    });

    test.each(['Fmft/training', 'fmft//training', '/training', 'training/', 'fmft--dev', 'fmft dev', '', `a${'b'.repeat(256)}`])(
      'repositoryName %j is rejected',
      (repositoryName) => {
        expect(() => build({ repositoryName })).toThrow(/repositoryName must be lower-case path segments separated by '\/'/);
      },
    );

    test.each([0, -1, 2.5])('untaggedImageExpirationDays %p is rejected', (days) => {
      expect(() => build({ untaggedImageExpirationDays: days })).toThrow(
        new RegExp(`untaggedImageExpirationDays must be a whole number >= 1, got ${days}`),
      );
    });

    test('every problem is reported in one error', () => {
      expect(() => build({ repositoryName: 'Bad', untaggedImageExpirationDays: 0 })).toThrow(
        /Invalid ContainerRepository props:\n- repositoryName.*\n- untaggedImageExpirationDays/,
      );
    });

    // CONVENTIONS.md: "Validate in the constructor ... skip unresolved tokens". ecr.Repository accepts a token here.
    test('an unresolved token for untaggedImageExpirationDays is not validated', () => {
      const stack = testStack();
      const days = new CfnParameter(stack, 'Days', { type: 'Number' }).valueAsNumber;
      expect(
        () => new ContainerRepository(stack, 'Repo', { repositoryName: 'fmft-dev/training', encryptionKey: new kms.Key(stack, 'K'), untaggedImageExpirationDays: days }),
      ).not.toThrow();
    });
  });
});
