import { Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { IConstruct } from 'constructs';
import * as path from 'path';
import { EnvironmentConfig } from '../../lib/config/environment-config';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { FineTuningPlatform } from '../../lib/fine-tuning-platform';
import { synthesizeEnvironment, unacknowledgedFindings } from '../support/app';

const NAG_PACKS = ['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless'];

/**
 * Every cdk-nag acknowledgement recorded under `root`, with where it was made. Those of CDK's own
 * CloudFormation validation, which aws-cdk-lib constructs make themselves, are not ours to prove.
 */
function acknowledgements(roots: readonly IConstruct[]): Array<{ path: string; id: string; reason: string }> {
  const found: Array<{ path: string; id: string; reason: string }> = [];
  for (const c of roots.flatMap((root) => root.node.findAll())) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        if (NAG_PACKS.some((pack) => id.startsWith(`${pack}::`))) found.push({ path: c.node.path, id, reason });
      }
    }
  }
  return found;
}

/** Every environment, plus prod serving the fixture's two variants (no environment serves one by default). */
const CONFIGS: Record<string, EnvironmentConfig> = {
  ...ENVIRONMENTS,
  'prod with endpoint': loadEnvironmentConfig('prod', path.join(__dirname, '..', 'fixtures', 'serving.json')),
};

describe.each(Object.keys(CONFIGS))('compliance of %s', (envName) => {
  const { platform, report, raw } = synthesizeEnvironment(CONFIGS[envName]);
  const app = platform.network.node.root;

  test('all five cdk-nag packs ran', () => {
    expect(report.pluginReports.map((p) => p.pluginName)).toEqual(expect.arrayContaining(NAG_PACKS));
  });

  test('no unacknowledged finding of cdk-nag or CDK\'s CloudFormation validation', () => {
    expect(unacknowledgedFindings(report)).toEqual([]);
  });

  test('every acknowledgement has a reason and matches a finding where it was made', () => {
    const acks = acknowledgements([app]);
    expect(acks.length).toBeGreaterThan(0);
    const suppressed = new Set(
      report.pluginReports.flatMap((p) => (p.suppressedViolations ?? []).map((s) => `${s.acknowledgedAt} ${s.acknowledgedId}`)),
    );
    const problems = acks.flatMap((a) => [
      ...(a.reason.trim().length < 20 ? [`${a.path}: ${a.id} has no real reason`] : []),
      ...(suppressed.has(`${a.path} ${a.id}`) ? [] : [`${a.path}: ${a.id} matches no finding`]),
    ]);
    expect(problems).toEqual([]);
  });

  test('no acknowledgement sits on a stack or the app', () => {
    const broad = [app, ...platform.stacks].map((s) => s.node.path);
    expect(broad).toHaveLength(platform.stacks.length + 1);
    expect(acknowledgements([app]).filter((a) => broad.includes(a.path))).toEqual([]);
  });

  test('every checkov skip is documented on its resource', () => {
    const skips = Object.values(raw).flatMap((t: any) =>
      Object.entries(t.Resources).flatMap(([id, r]: [string, any]) =>
        (r.Metadata?.checkov?.skip ?? []).map((s: any) => ({ id, check: s.id, comment: s.comment })),
      ),
    );
    expect(skips.length).toBeGreaterThan(0);
    for (const s of skips) {
      expect(s.check).toMatch(/^CKV2?_AWS_\d+$/);
      expect(String(s.comment).length).toBeGreaterThanOrEqual(20);
    }
  });

  test('every role an AWS service assumes admits it for this account and its own resources only (confused deputy)', () => {
    // Lambda assumes execution roles for the function itself and sets no source context, so the keys cannot apply.
    // CloudFormation service roles work for whoever passes them (iam:PassRole, granted to one function and only
    // to CloudFormation); the CDK's own bootstrap role trusts CloudFormation without source keys too.
    // API Gateway's logging role is the account's and region's (AWS::ApiGateway::Account), assumed for every REST
    // API there; the CloudFormation reference's own example of it trusts the service without source keys.
    const exempt = ['lambda.amazonaws.com', 'cloudformation.amazonaws.com', 'apigateway.amazonaws.com'];
    const problems: string[] = [];
    let checked = 0;
    for (const [stack, template] of Object.entries(raw) as [string, any][]) {
      for (const [id, r] of Object.entries(template.Resources) as [string, any][]) {
        if (r.Type !== 'AWS::IAM::Role') continue;
        for (const st of r.Properties.AssumeRolePolicyDocument.Statement) {
          const service = st.Principal?.Service;
          if (!service || exempt.includes(service)) continue;
          checked++;
          const keys = Object.values(st.Condition ?? {}).flatMap((c: any) => Object.keys(c));
          for (const key of ['aws:SourceAccount', 'aws:SourceArn']) {
            if (!keys.includes(key)) problems.push(`${stack} ${id} (${service}): no ${key}`);
          }
          const sourceArn = JSON.stringify(st.Condition?.ArnLike?.['aws:SourceArn'] ?? st.Condition?.ArnEquals?.['aws:SourceArn'] ?? '');
          if (keys.includes('aws:SourceArn') && !sourceArn.includes('AWS::AccountId')) {
            problems.push(`${stack} ${id} (${service}): aws:SourceArn ${sourceArn} is not an ARN of this account`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8);
    expect(problems).toEqual([]);
  });

  test('no AWS-managed FullAccess policy anywhere', () => {
    const text = JSON.stringify(raw);
    expect(text).not.toMatch(/FullAccess/);
    expect(text).not.toMatch(/AdministratorAccess/);
  });

  test('no IAM statement allows every action of a service', () => {
    const statements = Object.values(raw).flatMap((t: any) =>
      Object.values(t.Resources).flatMap((r: any) => [
        ...(r.Properties?.PolicyDocument?.Statement ?? []),
        ...(r.Properties?.KeyPolicy?.Statement ?? []).filter((s: any) => !JSON.stringify(s.Principal).includes(':root')),
      ]),
    );
    for (const s of statements.filter((st: any) => st.Effect === 'Allow')) {
      const actions = [s.Action].flat();
      expect(actions).not.toContain('*');
      expect(actions.filter((a: string) => /^[a-z0-9-]+:\*$/.test(a))).toEqual([]);
    }
  });
});

describe('every environment these tests synthesize', () => {
  test('fails on an unacknowledged finding, naming the rule and the construct, as `cdk synth` would', () => {
    // A bucket without encryption, logging, versioning or SSL enforcement: several packs report it.
    const withBucket = (platform: FineTuningPlatform) => new Bucket(platform.storage, 'UncheckedBucket');
    expect(() => synthesizeEnvironment(ENVIRONMENTS.dev, { change: withBucket })).toThrow(
      /^dev: \d+ unacknowledged finding\(s\) of cdk-nag or CDK's CloudFormation validation, which would fail cdk synth:\n.*(AwsSolutions-S1|S3BucketLoggingEnabled) at fmft-dev-storage\/UncheckedBucket\/Resource/s,
    );
  });
});
