import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { IdleEndpointReaper, IdleEndpointReaperProps } from '../../lib/constructs/idle-endpoint-reaper';
import { synthesizeEnvironment, testStack } from '../support/app';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const prod = synthesizeEnvironment(ENVIRONMENTS.prod);
const monitoring = (env: typeof dev) => Template.fromStack(env.platform.monitoring);

/** The reaper's function, its settings (tokens as 'TOKEN') and the statements of its role's managed policy. */
function reaperOf(env: typeof dev): { fn: any; settings: any; statements: any[] } {
  const template = monitoring(env);
  const [[, fn]] = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([, f]: [string, any]) => f.Properties.Handler === 'training.cost.idle_endpoints.handler') as [string, any][];
  const raw = fn.Properties.Environment.Variables.FMFT_IDLE_ENDPOINT_SETTINGS;
  const text = typeof raw === 'string' ? raw : raw['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  const policies = Object.entries(template.findResources('AWS::IAM::ManagedPolicy')).filter(([id]) => id.startsWith('IdleEndpointReaperHandler'));
  expect(policies).toHaveLength(1);
  return { fn, settings: JSON.parse(text), statements: (policies[0][1] as any).Properties.PolicyDocument.Statement };
}

/**
 * Each action of the reaper's own calls (the ones every platform function has are left out) with its resources as
 * text and its condition, one entry per action: CDK merges statements with the same resources.
 */
function ownGrants(statements: any[]): Array<{ action: string; resource: string; condition?: unknown }> {
  return statements
    .flatMap((s) => [s.Action].flat().map((action: string) => ({ action, resource: JSON.stringify(s.Resource), ...(s.Condition ? { condition: s.Condition } : {}) })))
    .filter((g) => /^(sagemaker|cloudwatch|sns):/.test(g.action))
    .sort((x, y) => x.action.localeCompare(y.action));
}

describe('idle-endpoint reaper in the environments', () => {
  test('dev: the function runs the handler in the VPC with its settings from cost.idleEndpoints', () => {
    const { fn, settings } = reaperOf(dev);
    expect(fn.Properties.VpcConfig.SubnetIds.length).toBeGreaterThan(0);
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Properties.DeadLetterConfig).toBeDefined();
    expect(settings).toEqual({
      environment: 'dev',
      namePrefix: 'fmft-dev-',
      idleHours: ENVIRONMENTS.dev.cost.idleEndpoints!.idleHours,
      action: 'delete',
      runEveryHours: 1,
      ownerTag: { key: 'fmft:environment', value: 'dev' },
      topicArn: 'TOKEN',
    });
  });

  test('it runs every hour, failed deliveries to the dead-letter queue', () => {
    const template = monitoring(dev);
    const [fnId] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([, f]: [string, any]) => f.Properties.Handler === 'training.cost.idle_endpoints.handler')!;
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r: any) => JSON.stringify(r.Properties.Targets).includes(fnId)) as any[];
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.ScheduleExpression).toBe('rate(1 hour)');
    expect(rules[0].Properties.Targets[0]).toMatchObject({
      Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
      DeadLetterConfig: { Arn: expect.anything() },
      RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
    });
  });

  test('dev: exactly the calls it makes, DeleteEndpoint only on endpoints the platform tagged and CloudFormation did not make', () => {
    const own = ownGrants(reaperOf(dev).statements);
    const endpoints = own.find((g) => g.action === 'sagemaker:DescribeEndpoint')!.resource;
    expect(endpoints).toContain(':endpoint/fmft-dev-*');
    expect(own).toEqual([
      { action: 'cloudwatch:GetMetricData', resource: '"*"' },
      {
        action: 'sagemaker:DeleteEndpoint',
        resource: endpoints,
        condition: { StringEquals: { 'aws:ResourceTag/fmft:environment': 'dev' }, Null: { 'aws:ResourceTag/aws:cloudformation:stack-name': 'true' } },
      },
      { action: 'sagemaker:DescribeEndpoint', resource: endpoints },
      { action: 'sagemaker:ListEndpoints', resource: '"*"' },
      { action: 'sagemaker:ListTags', resource: endpoints },
      { action: 'sns:Publish', resource: expect.stringContaining('AlertsTopic') },
    ]);
  });

  test('prod reports only: the same calls without DeleteEndpoint', () => {
    const { settings, statements } = reaperOf(prod);
    expect(settings).toMatchObject({ environment: 'prod', namePrefix: 'fmft-prod-', idleHours: 72, action: 'report' });
    expect(ownGrants(statements).map((g) => g.action)).toEqual(['cloudwatch:GetMetricData', 'sagemaker:DescribeEndpoint', 'sagemaker:ListEndpoints', 'sagemaker:ListTags', 'sns:Publish']);
    expect(JSON.stringify(statements)).not.toContain('sagemaker:DeleteEndpoint');
  });

  test('the function name is an output of the monitoring stack', () => {
    for (const env of [dev, prod]) {
      const output = monitoring(env).findOutputs('IdleEndpointReaperFunctionName');
      expect(Object.keys(output)).toEqual(['IdleEndpointReaperFunctionName']);
      expect(JSON.stringify(output)).toContain('IdleEndpointReaperHandler');
    }
  });

  test('cdk-nag: nothing unacknowledged on the reaper, and each of its acknowledgements matches a finding', () => {
    for (const env of [dev, prod]) {
      const reaper = env.platform.monitoring.idleEndpointReaper!;
      const under = (p: string) => p.startsWith(reaper.node.path);
      const findings = env.report.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.filter((c) => under(c.constructPath)).map((c) => `${v.ruleName} at ${c.constructPath}`)));
      expect(findings).toEqual([]);
      const suppressed = new Set(env.report.pluginReports.flatMap((p) => (p.suppressedViolations ?? []).map((s) => `${s.acknowledgedAt} ${s.acknowledgedId}`)));
      const acks = reaper.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).flatMap((m) => Object.keys(m.data as object).map((id) => `${c.node.path} ${id}`)));
      expect(acks.length).toBeGreaterThan(0);
      expect(acks.filter((a) => !suppressed.has(a))).toEqual([]);
    }
  });
});

describe('IdleEndpointReaper props', () => {
  const make = (change: Partial<IdleEndpointReaperProps> = {}) => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const props: IdleEndpointReaperProps = {
      code: lambda.Code.fromInline('def handler(e, c): pass'),
      placement: { vpc, subnets: vpc.isolatedSubnets, securityGroups: [new ec2.SecurityGroup(stack, 'Sg', { vpc })] },
      key: new kms.Key(stack, 'Key'),
      logRetention: logs.RetentionDays.ONE_MONTH,
      deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
      topic: new sns.Topic(stack, 'Topic'),
      environmentName: 'dev',
      namePrefix: 'fmft-dev-',
      idleHours: 24,
      action: 'report',
      ownerTag: { key: 'fmft:environment', value: 'dev' },
      ...change,
    };
    return new IdleEndpointReaper(stack, 'Reaper', props);
  };

  test('a report-only reaper cannot delete', () => {
    const reaper = make();
    expect(JSON.stringify(Template.fromStack(reaper.node.scope as any).toJSON())).not.toContain('sagemaker:DeleteEndpoint');
  });

  test('idleHours is a whole number from 1 to 720', () => {
    expect(() => make({ idleHours: 0 })).toThrow(/idleHours: got 0; allowed: a whole number from 1 to 720/);
    expect(() => make({ idleHours: 1.5 })).toThrow(/idleHours: got 1.5/);
  });

  test("namePrefix names this environment's endpoints only", () => {
    expect(() => make({ namePrefix: 'fmft-' })).toThrow(/namePrefix: got 'fmft-'; allowed: endpoint-name characters ending in -dev-/);
    expect(() => make({ namePrefix: 'fmft-prod-' })).toThrow(/namePrefix: got 'fmft-prod-'/);
  });

  test('action is delete or report', () => {
    expect(() => make({ action: 'stop' as any })).toThrow(/action: got 'stop'; allowed: delete or report/);
  });
});
