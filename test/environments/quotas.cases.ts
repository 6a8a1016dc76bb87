import * as path from 'path';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { synthesizeEnvironment } from '../support/app';

/**
 * AWS quotas that a template can break while every linter passes: CloudFormation accepts the template and the
 * deployment fails when IAM or Lambda refuses the size. Values CloudFormation resolves at deploy time (ARNs,
 * generated names, the account) are rendered at the longest they can plausibly be, so a pass here holds in any
 * account and commercial region.
 *
 * - IAM (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): a managed policy at most
 *   6,144 characters, a role's inline policies together at most 10,240, a trust policy at most 2,048 (the
 *   default), at most 10 managed policies attached to a role (the default); whitespace is not counted.
 * - Lambda (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): a function's
 *   environment variables together at most 4 KB.
 * - CloudFormation (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html):
 *   at most 500 resources, 200 outputs and 200 parameters per template, and a template of at most 1 MB
 *   (from S3, which `cdk deploy` uses for large ones).
 */
export const QUOTAS = {
  managedPolicyChars: 6_144,
  roleInlinePolicyChars: 10_240,
  trustPolicyChars: 2_048,
  managedPoliciesPerRole: 10,
  lambdaEnvironmentBytes: 4_096,
  resourcesPerTemplate: 500,
  outputsPerTemplate: 200,
  parametersPerTemplate: 200,
  templateBytes: 1_048_576,
} as const;

// The longest plausible value of each thing CloudFormation fills in.
const REGION = 'ap-southeast-2'; // among the longest commercial region names
const ACCOUNT = '123456789012';
const NAME = 'n'.repeat(64); // a generated physical name (stack, logical id and suffix, cut to 64 by most services)
const ARN = `arn:aws:service-name:${REGION}:${ACCOUNT}:resource-type/${NAME}`;
const PSEUDO: Record<string, string> = {
  'AWS::AccountId': ACCOUNT,
  'AWS::Region': REGION,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': NAME,
  'AWS::StackId': `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${NAME}/12345678-1234-1234-1234-123456789012`,
};

/** A CloudFormation value with every intrinsic function replaced by the longest plausible string it stands for. */
export function rendered(value: unknown, template: any): unknown {
  if (Array.isArray(value)) return value.map((v) => rendered(v, template));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [fn, arg] = entries[0] as [string, any];
    switch (fn) {
      case 'Ref':
        return PSEUDO[arg] ?? parameterValue(template, arg) ?? NAME;
      case 'Fn::GetAtt': {
        const attribute = Array.isArray(arg) ? arg[1] : String(arg).split('.').slice(1).join('.');
        return /Arn$/.test(attribute) ? ARN : NAME;
      }
      case 'Fn::ImportValue':
        return ARN;
      case 'Fn::Join':
        return (arg[1] as unknown[]).map((part) => String(rendered(part, template))).join(arg[0]);
      case 'Fn::Sub': {
        const [text, variables] = typeof arg === 'string' ? [arg, {}] : arg;
        return text.replace(/\$\{([^}!]+)\}/g, (_: string, name: string) =>
          name in variables ? String(rendered(variables[name], template)) : (PSEUDO[name] ?? (name.endsWith('.Arn') ? ARN : NAME)),
        );
      }
      case 'Fn::If': {
        const [, yes, no] = arg;
        const [a, b] = [JSON.stringify(rendered(yes, template)), JSON.stringify(rendered(no, template))];
        return a.length >= b.length ? rendered(yes, template) : rendered(no, template);
      }
      case 'Fn::Select':
      case 'Fn::FindInMap':
      case 'Fn::Base64':
        return NAME;
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, rendered(v, template)]));
}

/** A template parameter's longest plausible value: its MaxLength, else the longer of its default and an ARN. */
function parameterValue(template: any, name: string): string | undefined {
  const parameter = template.Parameters?.[name];
  if (!parameter) return undefined;
  if (parameter.MaxLength !== undefined) return 'p'.repeat(Number(parameter.MaxLength));
  const fallback = String(parameter.Default ?? '');
  return fallback.length > ARN.length ? fallback : ARN;
}

/** IAM's count: the characters of the policy JSON without whitespace outside strings. */
const policyChars = (document: unknown, template: any) => JSON.stringify(rendered(document, template)).length;

const refOf = (role: unknown) => (typeof role === 'object' && role !== null && 'Ref' in role ? String((role as any).Ref) : JSON.stringify(role));

interface Measure {
  readonly what: string;
  readonly where: string;
  readonly value: number;
  readonly limit: number;
}

/** Every quota measure of one template. */
export function quotaMeasures(stack: string, template: any): Measure[] {
  const measures: Measure[] = [];
  const add = (what: string, where: string, value: number, limit: number) => measures.push({ what, where: `${stack} ${where}`, value, limit });
  const resources = Object.entries(template.Resources ?? {}) as [string, any][];
  add('resources', 'template', resources.length, QUOTAS.resourcesPerTemplate);
  add('outputs', 'template', Object.keys(template.Outputs ?? {}).length, QUOTAS.outputsPerTemplate);
  add('parameters', 'template', Object.keys(template.Parameters ?? {}).length, QUOTAS.parametersPerTemplate);
  // As `cdk synth` writes it (indented by one space).
  add('template bytes', 'template', Buffer.byteLength(JSON.stringify(template, undefined, 1)), QUOTAS.templateBytes);

  const inline = new Map<string, number>();
  const attached = new Map<string, number>();
  const roles = new Set(resources.filter(([, r]) => r.Type === 'AWS::IAM::Role').map(([id]) => id));
  for (const [id, r] of resources) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::IAM::Role':
        add('trust policy characters', id, policyChars(p.AssumeRolePolicyDocument, template), QUOTAS.trustPolicyChars);
        inline.set(id, (inline.get(id) ?? 0) + (p.Policies ?? []).reduce((n: number, policy: any) => n + policyChars(policy.PolicyDocument, template), 0));
        attached.set(id, (attached.get(id) ?? 0) + (p.ManagedPolicyArns ?? []).length);
        break;
      case 'AWS::IAM::Policy':
        for (const role of (p.Roles ?? []).map(refOf)) inline.set(role, (inline.get(role) ?? 0) + policyChars(p.PolicyDocument, template));
        break;
      case 'AWS::IAM::ManagedPolicy':
        add('managed policy characters', id, policyChars(p.PolicyDocument, template), QUOTAS.managedPolicyChars);
        for (const role of (p.Roles ?? []).map(refOf)) attached.set(role, (attached.get(role) ?? 0) + 1);
        break;
      case 'AWS::Lambda::Function': {
        const variables = (rendered(p.Environment?.Variables ?? {}, template) ?? {}) as Record<string, unknown>;
        const bytes = Object.entries(variables).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);
        add('environment variable bytes', id, bytes, QUOTAS.lambdaEnvironmentBytes);
        break;
      }
    }
  }
  // Roles of other stacks (imported) are measured where they are defined.
  for (const [role, chars] of inline) if (roles.has(role)) add('inline policy characters of the role', role, chars, QUOTAS.roleInlinePolicyChars);
  for (const [role, count] of attached) if (roles.has(role)) add('managed policies attached to the role', role, count, QUOTAS.managedPoliciesPerRole);
  return measures;
}

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const CONFIGS = {
  dev: () => synthesizeEnvironment(ENVIRONMENTS.dev),
  prod: () => synthesizeEnvironment(ENVIRONMENTS.prod),
  'prod serving the fixture': () => synthesizeEnvironment(loadEnvironmentConfig('prod', FIXTURE)),
  'prod failover': () => synthesizeEnvironment(ENVIRONMENTS.prod, { failover: true }),
};

describe.each(Object.keys(CONFIGS) as (keyof typeof CONFIGS)[])('AWS quotas in %s', (name) => {
  const measures = Object.entries(CONFIGS[name]().raw).flatMap(([stack, template]) => quotaMeasures(stack, template));

  test('every template, role, policy and function is within its quota', () => {
    const over = measures.filter((m) => m.value > m.limit).map((m) => `${m.where}: ${m.what} ${m.value}, over the quota of ${m.limit}`);
    expect(over).toEqual([]);
  });

  test('each kind of quota was measured', () => {
    const kinds = new Set(measures.map((m) => m.what));
    for (const kind of ['managed policy characters', 'trust policy characters', 'managed policies attached to the role', 'environment variable bytes', 'resources', 'template bytes']) {
      expect(kinds).toContain(kind);
    }
  });
});

describe('the quota measures', () => {
  const role = { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } } };

  test('a managed policy is measured with its ARNs at their longest, and over 6,144 characters it is reported', () => {
    const statement = { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::GetAtt': ['Bucket', 'Arn'] } };
    const template = { Resources: { Role: role, Policy: { Type: 'AWS::IAM::ManagedPolicy', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: { Version: '2012-10-17', Statement: Array(60).fill(statement) } } } } };
    const policy = quotaMeasures('s', template).find((m) => m.what === 'managed policy characters')!;
    expect(policy.value).toBe(JSON.stringify({ Version: '2012-10-17', Statement: Array(60).fill({ ...statement, Resource: ARN }) }).length);
    expect(policy.value).toBeGreaterThan(QUOTAS.managedPolicyChars);
  });

  test("a role's inline policies add up, and Lambda environment variables are counted in bytes", () => {
    const document = { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:q' } }] };
    const template = {
      Resources: {
        Role: role,
        A: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: document } },
        B: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: document } },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { TABLE: { Ref: 'Table' }, NOTE: 'é' } } } },
      },
    };
    const measures = quotaMeasures('s', template);
    const one = JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:q` }] }).length;
    expect(measures.find((m) => m.what === 'inline policy characters of the role')!.value).toBe(2 * one);
    expect(measures.find((m) => m.what === 'environment variable bytes')!.value).toBe('TABLE'.length + NAME.length + 'NOTE'.length + 2);
  });
});
