/**
 * Delivery from GitHub Actions: the `<prefix>-<env>-delivery` stack (OIDC trust, what the roles may do, the
 * CloudFormation execution policy), its config, and the workflows that use it (.github/workflows/deploy.yml,
 * pull-request.yml) with docs/delivery.md. The stack selection of the workflows is proven with the real CDK CLI
 * on an assembly that has a delivery stack.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { App, CfnResource, LegacyStackSynthesizer, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { EnvironmentConfig } from '../../lib/config/environment-config';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { findConfigProblems } from '../../lib/config/validate';
import { CloudFormationExecutionPolicy, EXECUTION_POLICY_SERVICES, GitHubDeployRole, githubActionsOidcProvider } from '../../lib/constructs/github-deploy-role';
import { DeliveryStack } from '../../lib/stacks/delivery-stack';
import { cdkCommands, parseCdkCommand, shellBlocks } from '../cli/readme-commands';
import { configWith, synthesizeEnvironment, testApp } from '../support/app';

// js-yaml (a pinned dev dependency; jest brings the same version) reads the two workflow files.
const yaml: { safeLoad(text: string): any } = require('js-yaml');

const ROOT = path.join(__dirname, '..', '..');
const CDK = path.join(ROOT, 'node_modules', '.bin', 'cdk');
const run = promisify(execFile);
const readText = (...parts: string[]) => fs.readFileSync(path.join(ROOT, ...parts), 'utf8');

const DELIVERY = { github: { owner: 'octo-org', repository: 'fine-tuning-platform' }, oidcProvider: 'create', pullRequestDiff: true };
/** prod serving the fixture has every stack the platform can have (the DR stack in drRegion, the endpoints), plus delivery. */
const config: EnvironmentConfig = configWith(loadEnvironmentConfig('prod', path.join(ROOT, 'test', 'fixtures', 'serving.json')), (c) => (c.delivery = DELIVERY));
const synthesized = synthesizeEnvironment(config);
const { platform } = synthesized;
const delivery = platform.delivery!;
const template = Template.fromStack(delivery);
const resources = template.toJSON().Resources as Record<string, any>;

/** A template value as text: joins written out, `Ref`s and `GetAtt`s as `<...>`. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as any;
  if (v?.['Fn::Join']) return v['Fn::Join'][1].map(text).join(v['Fn::Join'][0]);
  if (v?.Ref) return `<${v.Ref}>`;
  if (v?.['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
  return JSON.stringify(value);
}
const list = (v: unknown) => [v].flat() as unknown[];
const logicalId = (type: string, where: (r: any) => boolean) => {
  const ids = Object.entries(resources).filter(([, r]) => r.Type === type && where(r)).map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0];
};
const roleId = (name: string) => logicalId('AWS::IAM::Role', (r) => r.Properties.RoleName === name);
/** Every statement of the customer managed policies attached to a role, as text. */
function statementsOf(role: string): { Sid?: string; Effect: string; Action: string[]; Resource: string[] }[] {
  const policies = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy' && list(r.Properties.Roles).some((x: any) => x?.Ref === role));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement.map((s: any) => ({
    Sid: s.Sid,
    Effect: s.Effect,
    Action: list(s.Action).map(text).sort(),
    Resource: list(s.Resource).map(text).sort(),
  }));
}
const REGIONS = [config.primaryRegion, config.drRegion];
const bootstrapRole = (kind: string, region: string) => `arn:aws:iam::<AWS::AccountId>:role/cdk-hnb659fds-${kind}-role-<AWS::AccountId>-${region}`;

/** The CLI with no AWS settings of the machine it runs on. */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', AWS_EC2_METADATA_DISABLED: 'true' };
  for (const key of Object.keys(env)) if (key.startsWith('AWS_') && key !== 'AWS_EC2_METADATA_DISABLED') delete env[key];
  return env;
}
/** What `cdk ls --app <this assembly> <selectors>` lists: the stacks the CLI would deploy or diff with them (once per selector list). */
const selections = new Map<string, Promise<string[]>>();
function selectedByCli(selectors: readonly string[]): Promise<string[]> {
  const key = JSON.stringify(selectors);
  if (!selections.has(key)) {
    selections.set(
      key,
      run(CDK, ['ls', '--app', synthesized.outdir, ...selectors], { cwd: ROOT, env: cliEnv(), maxBuffer: 16 * 1024 * 1024 }).then(({ stdout }) =>
        stdout.split('\n').map((l) => l.trim()).filter(Boolean),
      ),
    );
  }
  return selections.get(key)!;
}
const platformStackNames = platform.stacks.map((s) => s.stackName);

describe('delivery: only where the config asks for it', () => {
  test.each(['dev', 'prod'])('%s ships without delivery, and its app has no delivery stack', (name) => {
    expect(ENVIRONMENTS[name].delivery).toBeUndefined();
    const other = synthesizeEnvironment(ENVIRONMENTS[name]);
    expect(other.platform.delivery).toBeUndefined();
    expect(Object.keys(other.raw).filter((s) => s.endsWith('-delivery'))).toEqual([]);
  });

  test('the test config is valid, and with delivery the app has <prefix>-<env>-delivery in primaryRegion, apart from the platform stacks', () => {
    expect(findConfigProblems(config)).toEqual([]);
    expect(delivery.stackName).toBe('fmft-prod-delivery');
    expect(delivery.region).toBe(config.primaryRegion);
    expect(platform.stacks).not.toContain(delivery);
    expect(delivery.dependencies).toEqual([]);
    expect(platform.stacks.filter((s) => s.dependencies.includes(delivery)).map((s) => s.stackName)).toEqual([]);
  });

  test('it is deployed with the CLI\u2019s own credentials: no bootstrap role, no template in the bootstrap bucket, no asset parameters', () => {
    expect(delivery.synthesizer).toBeInstanceOf(LegacyStackSynthesizer);
    const manifest = JSON.parse(fs.readFileSync(path.join(synthesized.outdir, 'manifest.json'), 'utf8'));
    const properties = manifest.artifacts['fmft-prod-delivery'].properties;
    expect(Object.keys(properties).sort()).toEqual(['templateFile', 'terminationProtection', 'validateOnSynth']);
    expect(template.toJSON().Parameters).toBeUndefined();
  });
});

describe('delivery: trust policies', () => {
  const provider = logicalId('AWS::IAM::OIDCProvider', () => true);

  test('the OIDC provider is GitHub Actions\u2019 issuer with the STS audience', () => {
    expect(resources[provider].Properties.Url).toBe('https://token.actions.githubusercontent.com');
    expect(resources[provider].Properties.ClientIdList).toEqual(['sts.amazonaws.com']);
  });

  test.each([
    ['fmft-prod-github-deploy', 'repo:octo-org/fine-tuning-platform:environment:prod'],
    ['fmft-prod-github-diff', 'repo:octo-org/fine-tuning-platform:pull_request'],
  ])('%s trusts exactly aud sts.amazonaws.com and sub %s (StringEquals, nothing else)', (name, sub) => {
    expect(resources[roleId(name)].Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'sts:AssumeRoleWithWebIdentity',
          Effect: 'Allow',
          Principal: { Federated: { Ref: provider } },
          Condition: { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com', 'token.actions.githubusercontent.com:sub': sub } },
        },
      ],
    });
  });
});

describe('delivery: what the roles may do', () => {
  test('the deploy role may assume the four CDK bootstrap roles in each region it deploys to and pull the DLC base image; nothing else', () => {
    const role = roleId('fmft-prod-github-deploy');
    expect(resources[role].Properties.ManagedPolicyArns).toBeUndefined();
    expect(resources[role].Properties.Policies).toBeUndefined();
    expect(statementsOf(role)).toEqual([
      {
        Sid: 'AssumeCdkBootstrapRoles',
        Effect: 'Allow',
        Action: ['sts:AssumeRole'],
        Resource: ['deploy', 'file-publishing', 'image-publishing', 'lookup'].flatMap((kind) => REGIONS.map((r) => bootstrapRole(kind, r))).sort(),
      },
      // The ECR token API has no resource-level permissions; the pull names its one repository.
      { Sid: 'EcrLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: ['*'] },
      {
        Sid: 'PullBaseImages',
        Effect: 'Allow',
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        Resource: ['arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-training'],
      },
    ]);
    expect(resources[role].Properties.MaxSessionDuration).toBe(7200);
  });

  test('the diff role may only assume the lookup roles', () => {
    const role = roleId('fmft-prod-github-diff');
    expect(resources[role].Properties.ManagedPolicyArns).toBeUndefined();
    expect(statementsOf(role)).toEqual([{ Sid: 'AssumeCdkBootstrapRoles', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: REGIONS.map((r) => bootstrapRole('lookup', r)).sort() }]);
  });

  test('no AWS managed policy, no inline policy and no wildcard action anywhere in the stack', () => {
    // As the compliance tests read every template: the text may not name an administrator or full-access policy.
    expect(JSON.stringify(template.toJSON())).not.toMatch(/arn:aws:iam::aws:policy|AdministratorAccess|FullAccess/);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy')).toEqual([]);
    for (const r of Object.values(resources).filter((x) => x.Type === 'AWS::IAM::ManagedPolicy')) {
      for (const s of r.Properties.PolicyDocument.Statement.filter((x: any) => x.Effect === 'Allow')) expect(list(s.Action)).not.toContain('*');
    }
  });

  test('outputs: the role ARNs for the workflows and the execution policy for cdk bootstrap', () => {
    const outputs = template.toJSON().Outputs;
    expect(Object.keys(outputs).sort()).toEqual(['DeployRoleArn', 'DiffRoleArn', 'ExecutionPolicyArn']);
    expect(outputs.DeployRoleArn.Value).toEqual({ 'Fn::GetAtt': [roleId('fmft-prod-github-deploy'), 'Arn'] });
    expect(outputs.DiffRoleArn.Value).toEqual({ 'Fn::GetAtt': [roleId('fmft-prod-github-diff'), 'Arn'] });
    expect(outputs.ExecutionPolicyArn.Value).toEqual({ Ref: logicalId('AWS::IAM::ManagedPolicy', (r) => r.Properties.ManagedPolicyName === 'fmft-prod-cfn-execution') });
  });
});

describe('delivery: the CloudFormation execution policy', () => {
  const policyId = logicalId('AWS::IAM::ManagedPolicy', (r) => r.Properties.ManagedPolicyName === 'fmft-prod-cfn-execution');
  const statements = resources[policyId].Properties.PolicyDocument.Statement.map((s: any) => ({ ...s, Action: list(s.Action).map(text), Resource: list(s.Resource).map(text) }));
  const bySid = (sid: string) => statements.find((s: any) => s.Sid === sid);

  test('it is attached to no role here: cdk bootstrap gives it to the execution role', () => {
    expect(resources[policyId].Properties.Roles).toBeUndefined();
    expect(statements.map((s: any) => s.Sid)).toEqual(['PlatformServices', 'PlatformRoles', 'PlatformPolicies', 'ServiceLinkedRoles', 'CdkBootstrapVersion', 'ProtectDeliveryAndBootstrap']);
  });

  test('every resource type of every deployed template is created by an allowed service, or is an IAM role or policy named under the prefix', () => {
    const allowed = new Set(bySid('PlatformServices').Action.map((a: string) => a.replace(/:\*$/, '')));
    expect([...allowed].sort()).toEqual([...new Set(Object.values(EXECUTION_POLICY_SERVICES).flat())].sort());
    const problems: string[] = [];
    for (const name of platformStackNames) {
      expect(name.startsWith('fmft-prod-')).toBe(true);
      for (const [id, r] of Object.entries(synthesized.raw[name].Resources) as [string, any][]) {
        const namespace = r.Type.split('::').slice(0, 2).join('::');
        if (r.Type === 'AWS::CDK::Metadata') continue;
        if (r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource') {
          if (!allowed.has('lambda')) problems.push(`${name} ${id}: custom resources need lambda`);
        } else if (namespace === 'AWS::IAM') {
          if (!['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(r.Type)) problems.push(`${name} ${id}: ${r.Type}`);
          const given = r.Properties?.RoleName ?? r.Properties?.ManagedPolicyName;
          if (given !== undefined && !String(text(given)).startsWith('fmft-prod-')) problems.push(`${name} ${id}: named ${text(given)}`);
          if ((r.Properties?.Path ?? '/') !== '/') problems.push(`${name} ${id}: path ${r.Properties.Path}`);
        } else if (!EXECUTION_POLICY_SERVICES[namespace]) {
          problems.push(`${name} ${id}: ${r.Type}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test('IAM only on roles and policies under the environment prefix, service-linked roles, and the bootstrap version in each region', () => {
    expect(bySid('PlatformRoles').Resource).toEqual(['arn:aws:iam::<AWS::AccountId>:role/fmft-prod-*']);
    expect(bySid('PlatformPolicies').Resource).toEqual(['arn:aws:iam::<AWS::AccountId>:policy/fmft-prod-*']);
    expect(bySid('ServiceLinkedRoles')).toEqual(expect.objectContaining({ Action: ['iam:CreateServiceLinkedRole'], Resource: ['arn:aws:iam::<AWS::AccountId>:role/aws-service-role/*'] }));
    expect(bySid('CdkBootstrapVersion')).toEqual(
      expect.objectContaining({ Action: ['ssm:GetParameters'], Resource: REGIONS.map((r) => `arn:aws:ssm:${r}:<AWS::AccountId>:parameter/cdk-bootstrap/hnb659fds/version`) }),
    );
    const allows = statements.filter((s: any) => s.Effect === 'Allow').flatMap((s: any) => s.Action);
    expect(allows.filter((a: string) => a === '*' || a === 'iam:*' || a === 'sts:*' || a.startsWith('organizations:'))).toEqual([]);
    expect(allows.filter((a: string) => a.startsWith('iam:') && /User|Group|AccessKey|LoginProfile|OpenIDConnect|SAML/.test(a))).toEqual([]);
  });

  test('it denies every IAM action on both GitHub roles, the OIDC provider, itself and the CDK bootstrap roles', () => {
    const deny = bySid('ProtectDeliveryAndBootstrap');
    expect({ ...deny, Resource: [...deny.Resource].sort() }).toEqual({
      Sid: 'ProtectDeliveryAndBootstrap',
      Effect: 'Deny',
      Action: ['iam:*'],
      Resource: [
        `<${roleId('fmft-prod-github-deploy')}.Arn>`,
        `<${roleId('fmft-prod-github-diff')}.Arn>`,
        `<${logicalId('AWS::IAM::OIDCProvider', () => true)}>`,
        'arn:aws:iam::<AWS::AccountId>:policy/fmft-prod-cfn-execution',
        'arn:aws:iam::<AWS::AccountId>:role/cdk-hnb659fds-*',
      ].sort(),
    });
  });
});

describe('delivery: cdk-nag', () => {
  const atDelivery = (p: string) => p === 'fmft-prod-delivery' || p.startsWith('fmft-prod-delivery/');

  test('all five packs ran and found nothing unacknowledged in the delivery stack', () => {
    expect(synthesized.report.pluginReports.map((p) => p.pluginName)).toEqual(expect.arrayContaining(['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless']));
    const findings = synthesized.report.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.filter((c) => atDelivery(c.constructPath)).map((c) => `${v.ruleName} at ${c.constructPath}`)));
    expect(findings).toEqual([]);
  });

  test('each acknowledgement there sits on a policy (not the stack), gives a reason, and matches a finding', () => {
    const suppressed = synthesized.report.pluginReports.flatMap((p) => p.suppressedViolations ?? []).filter((s) => atDelivery(s.acknowledgedAt));
    expect(suppressed.length).toBeGreaterThan(0);
    expect([...new Set(suppressed.map((s) => s.acknowledgedAt))].sort()).toEqual(['fmft-prod-delivery/DeployRole/Policy', 'fmft-prod-delivery/ExecutionPolicy/Policy']);
    for (const s of suppressed) expect((s.reason ?? '').length).toBeGreaterThanOrEqual(20);
    // Only the execution policy grants whole services: the deploy role's one finding is the ECR token's `*`.
    expect(suppressed.filter((s) => s.acknowledgedAt.startsWith('fmft-prod-delivery/DeployRole')).map((s) => s.ruleName)).toEqual(['AwsSolutions-IAM5[Resource::*]']);
  });
});

describe('delivery: config', () => {
  const dev = ENVIRONMENTS.dev;
  const problems = (change: (d: any) => void) => findConfigProblems(configWith(dev, (c) => {
    c.delivery = JSON.parse(JSON.stringify(DELIVERY));
    change(c.delivery);
  }));

  test.each<[string, (d: any) => void]>([
    ['the shortest config', () => undefined],
    ['immutable subject IDs and a GitHub environment of another name', (d) => Object.assign(d.github, { ownerId: 1342004, repositoryId: 71996123, environment: 'production' })],
    ['an owner of 39 characters with single hyphens', (d) => (d.github.owner = `a-${'b'.repeat(37)}`)],
    ['a repository with dots and underscores', (d) => (d.github.repository = 'my_repo.v2')],
  ])('%s is valid', (_, change) => {
    expect(problems(change)).toEqual([]);
  });

  test.each<[string, (d: any) => void, RegExp]>([
    ['owner with an underscore', (d) => (d.github.owner = 'octo_org'), /^delivery.github.owner: got "octo_org"; allowed: a GitHub user or organization name: 1-39 letters, digits and single hyphens, not starting or ending with a hyphen$/],
    ['owner starting with a hyphen', (d) => (d.github.owner = '-octo'), /^delivery.github.owner: got "-octo"; allowed: a GitHub user or organization name/],
    ['owner with two hyphens in a row', (d) => (d.github.owner = 'octo--org'), /^delivery.github.owner: got "octo--org"; allowed: /],
    ['owner of 40 characters', (d) => (d.github.owner = 'a'.repeat(40)), /^delivery.github.owner: got "a{40}"; allowed: /],
    ['owner that is a wildcard', (d) => (d.github.owner = '*'), /^delivery.github.owner: got "\*"; allowed: /],
    ['repository with the owner in it', (d) => (d.github.repository = 'octo-org/fine-tuning-platform'), /^delivery.github.repository: got "octo-org\/fine-tuning-platform"; allowed: a GitHub repository name: 1-100 ASCII letters, digits, ., - and _ \(not . or ..\)$/],
    ['repository ..', (d) => (d.github.repository = '..'), /^delivery.github.repository: got "\.\."; allowed: a GitHub repository name/],
    ['repository of 101 characters', (d) => (d.github.repository = 'r'.repeat(101)), /^delivery.github.repository: got "r{101}"; allowed: /],
    ['repository with a space', (d) => (d.github.repository = 'fine tuning'), /^delivery.github.repository: got "fine tuning"; allowed: /],
    ['environment in upper case', (d) => (d.github.environment = 'Prod'), /^delivery.github.environment: got "Prod"; allowed: a GitHub environment name: 1-255 lower-case letters, digits, ., - and _, starting with a letter or digit$/],
    ['environment with a colon', (d) => (d.github.environment = 'prod:v1'), /^delivery.github.environment: got "prod:v1"; allowed: /],
    ['environment of 256 characters', (d) => (d.github.environment = 'e'.repeat(256)), /^delivery.github.environment: got "e{256}"; allowed: /],
    ['owner ID without the repository ID', (d) => (d.github.ownerId = 1342004), /^delivery.github.repositoryId: missing; allowed: ownerId and repositoryId together \(the immutable `sub` names both\), or neither$/],
    ['repository ID without the owner ID', (d) => (d.github.repositoryId = 71996123), /^delivery.github.ownerId: missing; allowed: ownerId and repositoryId together/],
    ['owner ID 0', (d) => Object.assign(d.github, { ownerId: 0, repositoryId: 1 }), /^delivery.github.ownerId: got 0; allowed: GitHub's numeric ID of the owner \(a whole number >= 1\)$/],
    ['repository ID as text', (d) => Object.assign(d.github, { ownerId: 1, repositoryId: '71996123' }), /^delivery.github.repositoryId: got "71996123"; allowed: GitHub's numeric ID of the repository/],
    ['unknown key', (d) => (d.github.branch = 'main'), /^delivery.github.branch: unknown key; allowed: owner, repository, ownerId, repositoryId, environment$/],
    ['missing owner', (d) => delete d.github.owner, /^delivery.github.owner: missing; allowed: a GitHub user or organization name$/],
    ['OIDC provider neither created nor imported', (d) => (d.oidcProvider = 'reuse'), /^delivery.oidcProvider: got "reuse"; allowed: create, import$/],
    ['pull request diff that is not a yes or no', (d) => (d.pullRequestDiff = 'yes'), /^delivery.pullRequestDiff: got "yes"; allowed: true or false$/],
  ])('refuses %s, naming the key path', (_, change, message) => {
    const found = problems(change);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  test('refuses a null delivery, naming the keys it should have', () => {
    expect(findConfigProblems(configWith(dev, (c) => (c.delivery = null)))).toEqual(['delivery: got null; allowed: an object with github, oidcProvider, pullRequestDiff']);
  });
});

describe('delivery: construct rules', () => {
  /** An app with a small deployed stack in each region and a stack for the roles. */
  function fixture(regions: string[] = ['us-east-1', 'us-west-2']) {
    const app = testApp();
    const deploys = regions.map((region, i) => new Stack(app, `fmft-test-s${i}`, { env: { region } }));
    const home = new Stack(app, 'fmft-test-delivery', { env: { region: regions[0] } });
    const provider = githubActionsOidcProvider(home, 'Provider', 'create');
    return { app, deploys, home, provider };
  }
  const repository = { owner: 'octo-org', name: 'fine-tuning-platform' };

  test.each<[string, (f: ReturnType<typeof fixture>) => object, RegExp]>([
    ['both an environment and pull requests', (f) => ({ environment: 'dev', pullRequestDiff: true, deploys: f.deploys }), /environment, pullRequestDiff: give exactly one/],
    ['neither an environment nor pull requests', (f) => ({ deploys: f.deploys }), /environment, pullRequestDiff: give exactly one/],
    ['an environment with a colon', (f) => ({ environment: 'dev:1', deploys: f.deploys }), /environment: got "dev:1"; allowed: letters, digits/],
    ['a wildcard owner', (f) => ({ environment: 'dev', deploys: f.deploys, repository: { owner: '*', name: 'x' } }), /repository.owner: got "\*"/],
    ['an owner ID without a repository ID', (f) => ({ environment: 'dev', deploys: f.deploys, repository: { ...repository, ownerId: 1 } }), /give both or neither/],
    ['no stacks to deploy', () => ({ environment: 'dev', deploys: [] }), /deploys: got no stacks/],
    ['its own stack among the deployed', (f) => ({ environment: 'dev', deploys: [...f.deploys, f.home] }), /deploys: includes fmft-test-delivery, the stack of this construct/],
    ['a deployed stack without a region', (f) => ({ environment: 'dev', deploys: [new Stack(f.app, 'fmft-test-anywhere')] }), /fmft-test-anywhere has no concrete region/],
    ['a deployed stack that uses no bootstrap roles', (f) => ({ environment: 'dev', deploys: [new Stack(f.app, 'fmft-test-legacy', { env: { region: 'us-east-1' }, synthesizer: new LegacyStackSynthesizer() })] }), /is not synthesized with DefaultStackSynthesizer/],
    ['base images for a diff role', (f) => ({ pullRequestDiff: true, deploys: f.deploys, baseImageRepositories: ['arn:aws:ecr:us-east-1:763104351884:repository/x'] }), /baseImageRepositories: a diff role builds no images/],
  ])('GitHubDeployRole refuses %s', (_, props, message) => {
    const f = fixture();
    expect(() => new GitHubDeployRole(f.home, 'Role', { provider: f.provider, repository, ...(props(f) as any) })).toThrow(message);
  });

  test('immutable subject claims go into the sub exactly as GitHub writes them', () => {
    const f = fixture();
    const role = new GitHubDeployRole(f.home, 'Role', { provider: f.provider, repository: { ...repository, ownerId: 1342004, repositoryId: 71996123 }, environment: 'production', deploys: f.deploys });
    expect(role.subject).toBe('repo:octo-org@1342004/fine-tuning-platform@71996123:environment:production');
  });

  test('a bootstrap qualifier set in the context (cdk.json) names the bootstrap roles', () => {
    // A bare App (no cdk.json flags, so the partition stays a reference) with the qualifier cdk.json would set.
    const app = new App({ context: { '@aws-cdk/core:bootstrapQualifier': 'fmftq' } });
    const deploys = [new Stack(app, 'fmft-test-network', { env: { region: 'eu-west-1' } })];
    const home = new Stack(app, 'fmft-test-delivery', { env: { region: 'eu-west-1' } });
    const role = new GitHubDeployRole(home, 'Role', { provider: githubActionsOidcProvider(home, 'Provider', 'create'), repository, pullRequestDiff: true, deploys });
    const statement = Stack.of(role).resolve(role.policy.document.toJSON()).Statement[0];
    expect(list(statement.Resource).map(text)).toEqual(['arn:<AWS::Partition>:iam::<AWS::AccountId>:role/cdk-fmftq-lookup-role-<AWS::AccountId>-eu-west-1']);
  });

  test('an imported provider is the account\u2019s provider for the GitHub URL, and no provider resource is made', () => {
    const app = testApp();
    const deploys = [new Stack(app, 'fmft-test-network', { env: { region: 'us-east-1' } })];
    new CfnResource(deploys[0], 'Topic', { type: 'AWS::SNS::Topic' });
    const home = new Stack(app, 'fmft-test-delivery', { env: { region: 'us-east-1' } });
    new GitHubDeployRole(home, 'Role', { provider: githubActionsOidcProvider(home, 'Provider', 'import'), repository, environment: 'dev', deploys });
    const t = Template.fromStack(home);
    t.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    const trust = Object.values(t.findResources('AWS::IAM::Role'))[0].Properties.AssumeRolePolicyDocument.Statement[0];
    expect(text(trust.Principal.Federated)).toBe('arn:aws:iam::<AWS::AccountId>:oidc-provider/token.actions.githubusercontent.com');
  });

  test('the delivery stack in a config with its own GitHub environment and immutable IDs trusts exactly that subject', () => {
    const app = testApp();
    const own = configWith(config, (c) => Object.assign(c.delivery.github, { ownerId: 1342004, repositoryId: 71996123, environment: 'production' }));
    const deploys = [new Stack(app, 'fmft-prod-network', { env: { region: own.primaryRegion } })];
    const stack = new DeliveryStack(app, 'fmft-prod-delivery', { config: own, deploys, env: { region: own.primaryRegion } });
    expect(stack.deployRole.subject).toBe('repo:octo-org@1342004/fine-tuning-platform@71996123:environment:production');
    expect(stack.diffRole!.subject).toBe('repo:octo-org@1342004/fine-tuning-platform@71996123:pull_request');
  });

  test.each<[string, (s: Stack) => void, RegExp]>([
    ['a resource type no allowed service creates', (s) => new CfnResource(s, 'Secret', { type: 'AWS::SecretsManager::Secret' }), /AWS::SecretsManager::Secret \(in fmft-test-s0\): no service of the execution policy creates it; add AWS::SecretsManager to EXECUTION_POLICY_SERVICES/],
    ['an IAM role named outside the prefix', (s) => new iam.Role(s, 'Named', { roleName: 'someone-else', assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }), /\(AWS::IAM::Role\): named "someone-else", outside fmft-test-\*/],
    ['an IAM role under a path', (s) => new iam.Role(s, 'Pathed', { path: '/service-role/', assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }), /\(AWS::IAM::Role\): path "\/service-role\/" puts its ARN outside fmft-test-\*/],
    ['an IAM user', (s) => new iam.User(s, 'User'), /AWS::IAM::User \(in fmft-test-s0\): the execution policy manages IAM roles and policies only/],
  ])('CloudFormationExecutionPolicy fails synth for %s', (_, add, message) => {
    const f = fixture();
    add(f.deploys[0]);
    new CloudFormationExecutionPolicy(f.home, 'Policy', { managedPolicyName: 'fmft-test-cfn-execution', iamNamePrefix: 'fmft-test', deploys: f.deploys, protectedRoles: [], protectedProviders: [] });
    expect(() => f.app.synth()).toThrow(message);
  });

  test('CloudFormationExecutionPolicy refuses stacks named outside its prefix', () => {
    const f = fixture();
    expect(
      () => new CloudFormationExecutionPolicy(f.home, 'Policy', { managedPolicyName: 'x-cfn-execution', iamNamePrefix: 'other', deploys: f.deploys, protectedRoles: [], protectedProviders: [] }),
    ).toThrow(/deploys: fmft-test-s0 does not start with other-/);
  });

  test('the delivery stack refuses a config without delivery', () => {
    const app = testApp();
    const deploys = [new Stack(app, 'fmft-dev-network', { env: { region: 'us-east-1' } })];
    expect(() => new DeliveryStack(app, 'fmft-dev-delivery', { config: ENVIRONMENTS.dev, deploys })).toThrow(/config.delivery: missing/);
  });
});

// ------------------------------------------------------------------------------------------------ workflows

const deployWorkflow = yaml.safeLoad(readText('.github', 'workflows', 'deploy.yml'));
const prWorkflow = yaml.safeLoad(readText('.github', 'workflows', 'pull-request.yml'));
/** The README's test command: the `bash scripts/...` line of its shell blocks that runs every test. */
const README_TEST_COMMAND = shellBlocks(readText('README.md'))
  .flatMap((b) => b.lines)
  .map((l) => l.replace(/\s+#.*$/, '').trim())
  .filter((l) => /^bash scripts\/test\.sh\b/.test(l));
const runs = (job: any): string[] => job.steps.filter((s: any) => s.run).map((s: any) => String(s.run).trim());
/** The `npx cdk <subcommand>` line of a job, parsed as the docs tests parse commands; shell redirections dropped. */
function cdkCommandOf(job: any, subcommand: string) {
  const lines = runs(job).flatMap((r) => r.split('\n')).map((l) => l.trim()).filter((l) => l.startsWith(`npx cdk ${subcommand} `));
  expect(lines).toHaveLength(1);
  return parseCdkCommand(lines[0].replace(/\s+(2>&1|\|).*$/, ''), 'workflow');
}
const OIDC_ACTION = /^aws-actions\/configure-aws-credentials@(v\d+|[0-9a-f]{40})$/;

describe('deploy workflow (.github/workflows/deploy.yml)', () => {
  const jobs = deployWorkflow.jobs;
  const deployJobs = [
    ['deploy-dev', 'dev'],
    ['deploy-prod', 'prod'],
  ] as const;

  test('runs on pushes to main only, and reads the code, nothing else, unless a job asks', () => {
    expect(deployWorkflow.on).toEqual({ push: { branches: ['main'] } });
    expect(deployWorkflow.permissions).toEqual({ contents: 'read' });
    expect(Object.keys(jobs).sort()).toEqual(['deploy-dev', 'deploy-prod', 'test']);
    expect(deployWorkflow.concurrency).toEqual({ group: 'deploy', 'cancel-in-progress': false });
  });

  test("the test job runs the README's test command, and asks for no token", () => {
    expect(README_TEST_COMMAND).toEqual(['bash scripts/test.sh']);
    expect(runs(jobs.test)).toContain(README_TEST_COMMAND[0]);
    expect(jobs.test.permissions).toBeUndefined();
    expect(jobs.test.environment).toBeUndefined();
  });

  test('dev deploys after the tests in GitHub environment dev; prod after dev in environment prod (its reviewers are the approval)', () => {
    expect(jobs['deploy-dev'].needs).toBe('test');
    expect(jobs['deploy-dev'].environment).toBe('dev');
    expect(jobs['deploy-prod'].needs).toBe('deploy-dev');
    expect(jobs['deploy-prod'].environment).toBe('prod');
  });

  test.each(deployJobs)('%s: OIDC permissions only (id-token: write, contents: read), credentials from its role through configure-aws-credentials, pinned', (name, env) => {
    const job = jobs[name];
    expect(job.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
    const oidc = job.steps.filter((s: any) => String(s.uses ?? '').startsWith('aws-actions/configure-aws-credentials'));
    expect(oidc).toHaveLength(1);
    expect(oidc[0].uses).toMatch(OIDC_ACTION);
    const variable = `${env.toUpperCase()}_DEPLOY_ROLE_ARN`;
    expect(oidc[0].with['role-to-assume']).toBe(`\${{ vars.${variable} }}`);
    expect(job.if).toBe(`vars.${variable} != ''`);
    expect(Object.keys(oidc[0].with).filter((k) => /access-key|secret/.test(k))).toEqual([]);
  });

  test('no stored credentials anywhere in the workflows', () => {
    for (const file of ['deploy.yml', 'pull-request.yml']) expect(readText('.github', 'workflows', file)).not.toMatch(/secrets\.|aws-access-key-id|aws-secret-access-key/);
  });

  test.each(deployJobs)('%s deploys its own environment, whose GitHub name is the one the deploy role trusts', (name, env) => {
    const command = cdkCommandOf(jobs[name], 'deploy');
    expect(command.context).toEqual({ env });
    expect(command.flags).toContain('--require-approval');
    // With delivery added to that environment's config, its deploy role trusts exactly the job's GitHub environment.
    const app = testApp();
    const own = configWith(ENVIRONMENTS[env], (c) => (c.delivery = DELIVERY));
    const deploys = [new Stack(app, `fmft-${env}-network`, { env: { region: own.primaryRegion } })];
    const stack = new DeliveryStack(app, `fmft-${env}-delivery`, { config: own, deploys, env: { region: own.primaryRegion } });
    expect(stack.deployRole.subject).toBe(`repo:octo-org/fine-tuning-platform:environment:${jobs[name].environment}`);
  });

  test.each(deployJobs)('%s: the CDK CLI selects every platform stack with its selectors, and never the delivery stack', async (name) => {
    const command = cdkCommandOf(jobs[name], 'deploy');
    expect(command.flags).not.toContain('--all');
    const selected = await selectedByCli(command.positional);
    expect([...selected].sort()).toEqual([...platformStackNames].sort());
    expect(selected).not.toContain(delivery.stackName);
  });
});

describe('pull request workflow (.github/workflows/pull-request.yml)', () => {
  const jobs = prWorkflow.jobs;

  test("runs on pull requests: synth with cdk-nag and every test (the README's command, through .ci/run), and a diff job", () => {
    expect(Object.keys(prWorkflow.on)).toEqual(['pull_request']);
    expect(prWorkflow.permissions).toEqual({ contents: 'read' });
    expect(runs(jobs.test)).toEqual(['bash .ci/run']);
    expect(readText('.ci', 'run')).toMatch(new RegExp(`^${README_TEST_COMMAND[0]}$`, 'm'));
  });

  test('the diff job: its own OIDC permissions, no environment (so its sub is pull_request), the diff role, forks skipped', () => {
    const job = jobs['diff-dev'];
    expect(job.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
    expect(job.environment).toBeUndefined();
    expect(job.if).toBe("vars.DEV_DIFF_ROLE_ARN != '' && github.event.pull_request.head.repo.full_name == github.repository");
    const oidc = job.steps.find((s: any) => String(s.uses ?? '').startsWith('aws-actions/configure-aws-credentials'));
    expect(oidc.uses).toMatch(OIDC_ACTION);
    expect(oidc.with['role-to-assume']).toBe('${{ vars.DEV_DIFF_ROLE_ARN }}');
    expect(delivery.diffRole!.subject).toBe('repo:octo-org/fine-tuning-platform:pull_request');
  });

  test('it diffs dev with the template method (the lookup role only), over the same stacks as a deploy', async () => {
    const command = cdkCommandOf(jobs['diff-dev'], 'diff');
    expect(command.context).toEqual({ env: 'dev' });
    expect(command.text).toMatch(/ --method template /);
    const selected = await selectedByCli(command.positional);
    expect([...selected].sort()).toEqual([...platformStackNames].sort());
  });
});

describe('docs/delivery.md', () => {
  const doc = path.join(ROOT, 'docs', 'delivery.md');
  const commands = cdkCommands(doc);
  /** A selector with the placeholders filled in for the test config (prod). */
  const filled = (selector: string) => selector.replace(/<env>/g, config.name);

  test('every CDK command with stack selectors selects stacks of an environment with delivery (placeholders filled with prod)', async () => {
    const withStacks = commands.filter((c) => ['deploy', 'diff', 'destroy', 'synth', 'ls'].includes(c.subcommand) && c.positional.length > 0);
    expect(withStacks.length).toBeGreaterThanOrEqual(2);
    for (const c of withStacks) {
      expect({ where: c.where, env: c.context.env }).toEqual({ where: c.where, env: '<env>' });
      expect({ where: c.where, selected: (await selectedByCli(c.positional.map(filled))).length > 0 }).toEqual({ where: c.where, selected: true });
    }
    const once = withStacks.find((c) => c.subcommand === 'deploy' && c.positional.some((p) => p.endsWith('-delivery')))!;
    expect(await selectedByCli(once.positional.map(filled))).toEqual([delivery.stackName]);
  });

  test('its bootstrap commands pass the execution policy the stack creates, in both regions', () => {
    const bootstraps = commands.filter((c) => c.subcommand === 'bootstrap');
    expect(bootstraps.map((c) => c.positional[0])).toEqual(['aws://<account-id>/<primary-region>', 'aws://<account-id>/<dr-region>']);
    for (const c of bootstraps) {
      const policy = /--cloudformation-execution-policies (\S+)/.exec(c.text)![1];
      const name = Object.values(resources).find((r) => r.Type === 'AWS::IAM::ManagedPolicy' && r.Properties.ManagedPolicyName)!.Properties.ManagedPolicyName;
      expect(filled(policy)).toBe(`arn:aws:iam::<account-id>:policy/${name}`);
    }
  });

  test('it names every repository variable the workflows read, and every output of the stack', () => {
    const text = fs.readFileSync(doc, 'utf8');
    const variables = [...new Set([...readText('.github', 'workflows', 'deploy.yml').matchAll(/vars\.(\w+)/g), ...readText('.github', 'workflows', 'pull-request.yml').matchAll(/vars\.(\w+)/g)].map((m) => m[1]))];
    expect(variables.length).toBeGreaterThanOrEqual(5);
    expect(variables.filter((v) => !text.includes(`\`${v}\``))).toEqual([]);
    expect(Object.keys(template.toJSON().Outputs).filter((o) => !text.includes(`\`${o}\``))).toEqual([]);
  });
});
