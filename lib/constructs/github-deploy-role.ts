import { CfnResource, DefaultStackSynthesizer, Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeNag, acknowledgeRuleInPacks, iam5ResourceFinding, skipCheckov } from './compliance';

/**
 * Deploying from GitHub Actions without stored keys: the account's OIDC provider for GitHub, a role that only
 * jobs of one repository and one GitHub environment can assume (`GitHubDeployRole`), and the CloudFormation
 * execution policy that bounds what any deployment through the CDK bootstrap roles can do
 * (`CloudFormationExecutionPolicy`). They are one unit: the role may only assume the bootstrap roles, so what
 * it can change in the account is exactly what the execution policy allows, and that policy is what keeps the
 * role from changing its own trust.
 */

/** GitHub's OIDC issuer, without `https://`: the provider URL and the prefix of its condition keys (`<issuer>:sub`). */
export const GITHUB_ACTIONS_ISSUER = 'token.actions.githubusercontent.com';
/**
 * The audience aws-actions/configure-aws-credentials asks GitHub for, and so the provider's client ID
 * (docs.github.com, Configuring OpenID Connect in Amazon Web Services: "For the Audience: use sts.amazonaws.com").
 */
export const STS_AUDIENCE = 'sts.amazonaws.com';
/** The CDK bootstrap roles a `cdk deploy` assumes (`cdk-<qualifier>-<kind>-role-<account>-<region>`); not the execution role. */
export const BOOTSTRAP_ROLE_KINDS = ['deploy', 'file-publishing', 'image-publishing', 'lookup'] as const;
export type BootstrapRoleKind = (typeof BOOTSTRAP_ROLE_KINDS)[number];

/** Create the account's OIDC provider for GitHub Actions, or import the one that exists. */
export type OidcProviderChoice = 'create' | 'import';

/**
 * The IAM OIDC provider for `https://token.actions.githubusercontent.com`. An account has at most one provider per
 * URL, so the second environment in an account imports the first one's (by its fixed ARN).
 */
export function githubActionsOidcProvider(scope: Construct, id: string, choice: OidcProviderChoice): iam.IOidcProvider {
  if (choice === 'import') {
    const arn = Stack.of(scope).formatArn({ service: 'iam', region: '', resource: 'oidc-provider', resourceName: GITHUB_ACTIONS_ISSUER });
    return iam.OidcProviderNative.fromOidcProviderArn(scope, id, arn);
  }
  // No thumbprints: IAM then secures the connection with its own library of trusted root CAs (the construct's
  // documented default), so a certificate rotation at GitHub cannot lock the workflows out.
  return new iam.OidcProviderNative(scope, id, { url: `https://${GITHUB_ACTIONS_ISSUER}`, clientIds: [STS_AUDIENCE] });
}

/** A GitHub repository, as the `sub` claim of its workflows' tokens names it. */
export interface GitHubRepository {
  /** User or organization, spelled as GitHub spells it (IAM compares case-sensitively). */
  readonly owner: string;
  /** Repository name without the owner. */
  readonly name: string;
  /**
   * GitHub's numeric owner ID, for repositories with immutable subject claims (`repo:<owner>@<ownerId>/<name>@<repositoryId>:...`).
   * Give it together with `repositoryId`. @default - the name-only subject
   */
  readonly ownerId?: number;
  /** GitHub's numeric repository ID; together with `ownerId`. @default - the name-only subject */
  readonly repositoryId?: number;
}

/**
 * The `sub` claim of a job of `repository` in `context`: `environment:<name>` for a job that references a GitHub
 * environment, `pull_request` for a pull request workflow's job without one. Formats from docs.github.com
 * (OpenID Connect reference, "Example subject claims" and "Immutable subject claims"):
 * `repo:ORG-NAME/REPO-NAME:environment:ENVIRONMENT-NAME`, `repo:ORG-NAME/REPO-NAME:pull_request`, and with
 * immutable claims `repo:OWNER@OWNER-ID/REPO@REPO-ID:...`.
 */
export function githubSubject(repository: GitHubRepository, context: { environment: string } | 'pull_request'): string {
  const owner = repository.ownerId === undefined ? repository.owner : `${repository.owner}@${repository.ownerId}`;
  const name = repository.repositoryId === undefined ? repository.name : `${repository.name}@${repository.repositoryId}`;
  return `repo:${owner}/${name}:${context === 'pull_request' ? 'pull_request' : `environment:${context.environment}`}`;
}

/** Each (qualifier, region) whose bootstrap roles deploy one of `stacks`, in the order the stacks come. */
export function bootstrapTargets(stacks: readonly Stack[]): { qualifier: string; region: string }[] {
  const seen = new Map<string, { qualifier: string; region: string }>();
  for (const stack of stacks) {
    const qualifier = stack.synthesizer.bootstrapQualifier ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    seen.set(`${qualifier} ${stack.region}`, { qualifier, region: stack.region });
  }
  return [...seen.values()];
}

/** `arn:<partition>:iam::<account>:role/cdk-<qualifier>-<kind>-role-<account>-<region>`, the name `cdk bootstrap` gives it. */
export function bootstrapRoleArn(scope: IConstruct, qualifier: string, kind: BootstrapRoleKind, region: string): string {
  const stack = Stack.of(scope);
  return stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: `cdk-${qualifier}-${kind}-role-${stack.account}-${region}` });
}

/** Problems with the stacks a role or policy is made for (empty when fine). */
function deployedStackProblems(scope: IConstruct, stacks: readonly Stack[]): string[] {
  const own = Stack.of(scope);
  const problems: string[] = [];
  if (stacks.length === 0) problems.push('deploys: got no stacks; allowed: the stacks the workflow deploys');
  for (const stack of stacks) {
    if (stack === own) problems.push(`deploys: includes ${stack.stackName}, the stack of this construct; a deployment must never change the roles that guard deployments`);
    if (!(stack.synthesizer instanceof DefaultStackSynthesizer)) {
      problems.push(`deploys: ${stack.stackName} is not synthesized with DefaultStackSynthesizer, so its deployment does not go through the bootstrap roles`);
    }
    if (Token.isUnresolved(stack.region)) problems.push(`deploys: ${stack.stackName} has no concrete region; its bootstrap roles cannot be named`);
    if (!Token.isUnresolved(stack.account) && !Token.isUnresolved(own.account) && stack.account !== own.account) {
      problems.push(`deploys: ${stack.stackName} is in account ${stack.account}, not ${own.account}; the role may only assume bootstrap roles of its own account`);
    }
  }
  return problems;
}

export interface GitHubDeployRoleProps {
  /** The account's OIDC provider for GitHub Actions (see `githubActionsOidcProvider`). */
  readonly provider: iam.IOidcProvider;
  /** The only repository whose workflows may assume the role. */
  readonly repository: GitHubRepository;
  /**
   * Jobs that reference this GitHub environment may assume the role, and may then assume every bootstrap role
   * a `cdk deploy` of `deploys` uses. Exclusive with `pullRequestDiff`.
   * @default - no environment; then `pullRequestDiff` must be true
   */
  readonly environment?: string;
  /**
   * Jobs of pull request workflows (that reference no environment) may assume the role, and may then assume only
   * the CDK lookup roles: `cdk diff --method template` reads the deployed templates with those and nothing else.
   * Exclusive with `environment`.
   * @default false
   */
  readonly pullRequestDiff?: boolean;
  /** The stacks deployed (or diffed) with the role: their bootstrap roles, by qualifier and region, are the only roles it may assume. */
  readonly deploys: readonly Stack[];
  /**
   * ECR repositories (ARNs) whose images `docker build` pulls with the role's own credentials, such as the base
   * image of a Docker image asset. Read-only. Only with `environment`.
   * @default - none
   */
  readonly baseImageRepositories?: readonly string[];
  /** @default - a name CloudFormation generates */
  readonly roleName?: string;
  /** Longest session a job can ask for. @default Duration.hours(1) */
  readonly maxSessionDuration?: Duration;
}

/**
 * A role that GitHub Actions jobs of one repository assume with OpenID Connect, with no stored keys. Its trust
 * policy requires the token's audience to be `sts.amazonaws.com` and its subject to be exactly one string
 * (StringEquals, no wildcards): one repository and one GitHub environment, or that repository's pull requests.
 * It is never an administrator: it may only assume the CDK bootstrap roles of the stacks it deploys (and pull a
 * base image), so what a deployment may change is set by the CloudFormation execution role's policy.
 */
export class GitHubDeployRole extends Construct {
  readonly role: iam.Role;
  /** Every statement of the role, in one customer managed policy (no inline policy). */
  readonly policy: iam.ManagedPolicy;
  /** The `sub` claim the trust policy requires, exactly. */
  readonly subject: string;

  constructor(scope: Construct, id: string, props: GitHubDeployRoleProps) {
    super(scope, id);
    const problems = deployedStackProblems(this, props.deploys);
    const diff = props.pullRequestDiff ?? false;
    if ((props.environment === undefined) === !diff) {
      problems.push('environment, pullRequestDiff: give exactly one (a deploy role for one GitHub environment, or a diff role for pull requests)');
    }
    if (props.environment !== undefined && !/^[A-Za-z0-9._-]+$/.test(props.environment)) {
      problems.push(`environment: got "${props.environment}"; allowed: letters, digits, ., - and _ (anything else changes how the sub claim is written)`);
    }
    const r = props.repository;
    for (const [key, value] of [['repository.owner', r.owner], ['repository.name', r.name]] as const) {
      // A wildcard, a colon or a slash would change which tokens the subject describes.
      if (!/^[A-Za-z0-9._-]+$/.test(value)) problems.push(`${key}: got "${value}"; allowed: letters, digits, ., - and _`);
    }
    if ((r.ownerId === undefined) !== (r.repositoryId === undefined)) problems.push('repository.ownerId, repository.repositoryId: give both or neither');
    if (diff && props.baseImageRepositories?.length) problems.push('baseImageRepositories: a diff role builds no images; allowed: only with environment');
    if (problems.length) throw new Error(`Invalid GitHubDeployRole props:\n- ${problems.join('\n- ')}`);

    this.subject = githubSubject(r, diff ? 'pull_request' : { environment: props.environment! });
    const kinds: readonly BootstrapRoleKind[] = diff ? ['lookup'] : BOOTSTRAP_ROLE_KINDS;
    const what = diff ? `cdk diff of pull requests of ${r.owner}/${r.name}` : `cdk deploy from the ${props.environment} environment of ${r.owner}/${r.name}`;

    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      description: `GitHub Actions (OIDC): ${what}`,
      maxSessionDuration: props.maxSessionDuration,
      // StringEquals on both claims: `aud` so only tokens minted for STS count, `sub` so only this repository's
      // jobs in this one GitHub environment (or its pull requests) match. AWS recommends the `sub` condition for
      // every role that trusts GitHub's provider (IAM User Guide, "Configuring a role for GitHub OIDC identity
      // provider"); StringLike with `*` would admit other branches, environments or repositories.
      assumedBy: new iam.WebIdentityPrincipal(props.provider.oidcProviderArn, {
        StringEquals: { [`${GITHUB_ACTIONS_ISSUER}:aud`]: STS_AUDIENCE, [`${GITHUB_ACTIONS_ISSUER}:sub`]: this.subject },
      }),
    });

    const roles = bootstrapTargets(props.deploys).flatMap(({ qualifier, region }) => kinds.map((kind) => bootstrapRoleArn(this, qualifier, kind, region)));
    const statements = [
      // The CDK CLI does everything through these: the deploy role creates change sets (CloudFormation then acts
      // with the execution role), the publishing roles upload assets, the lookup role reads deployed templates.
      new iam.PolicyStatement({ sid: 'AssumeCdkBootstrapRoles', actions: ['sts:AssumeRole'], resources: roles }),
    ];
    const pulls = props.baseImageRepositories ?? [];
    if (pulls.length) {
      statements.push(
        // `aws ecr get-login-password` (scripts/dlc-login.sh) before `docker build`: the token API has no
        // resource-level permissions (Service Authorization Reference, Amazon ECR).
        new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
        new iam.PolicyStatement({
          sid: 'PullBaseImages',
          actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          resources: [...pulls],
        }),
      );
    }
    this.policy = new iam.ManagedPolicy(this, 'Policy', { roles: [this.role], description: `GitHub Actions (OIDC): ${what}`, statements });
    if (pulls.length) {
      acknowledgeNag(this.policy, {
        id: iam5ResourceFinding(this.policy, '*'),
        reason: 'Only ecr:GetAuthorizationToken uses *: the ECR token API has no resource-level permissions; the image pulls name their repositories',
      });
      skipCheckov(this.policy, {
        id: 'CKV_AWS_107',
        comment: 'ecr:GetAuthorizationToken lets docker log in to pull the job image base (scripts/dlc-login.sh); the token only reaches repositories this policy names',
      });
    }
  }
}

// ------------------------------------------------------------------------------ CloudFormation execution policy

/**
 * The AWS services a CloudFormation namespace's resources are created with: the execution policy allows these
 * services, and nothing outside them. `CloudFormationExecutionPolicy` refuses a stack with a resource type whose
 * namespace is missing here, so a new kind of resource fails synth with its name instead of failing a deploy.
 * IAM is not here: roles and policies are allowed by name (see below).
 */
export const EXECUTION_POLICY_SERVICES: Readonly<Record<string, readonly string[]>> = {
  // API Gateway's IAM actions are its HTTP verbs on resource paths (apigateway:GET, apigateway:POST, ...).
  'AWS::ApiGateway': ['apigateway'],
  'AWS::ApplicationAutoScaling': ['application-autoscaling'],
  'AWS::Athena': ['athena'],
  // A backup vault's storage is a separate IAM service (CreateBackupVault needs backup-storage:MountCapsule).
  'AWS::Backup': ['backup', 'backup-storage'],
  'AWS::Budgets': ['budgets'],
  'AWS::CloudTrail': ['cloudtrail'],
  'AWS::CloudWatch': ['cloudwatch'],
  'AWS::DynamoDB': ['dynamodb'],
  'AWS::EC2': ['ec2'],
  'AWS::ECR': ['ecr'],
  'AWS::Events': ['events'],
  'AWS::Glue': ['glue'],
  'AWS::KMS': ['kms'],
  'AWS::Lambda': ['lambda'],
  'AWS::Logs': ['logs'],
  'AWS::S3': ['s3'],
  'AWS::SNS': ['sns'],
  'AWS::SQS': ['sqs'],
  'AWS::SageMaker': ['sagemaker'],
  'AWS::Scheduler': ['scheduler'],
  'AWS::StepFunctions': ['states'],
  'AWS::WAFv2': ['wafv2'],
};
/** IAM resource types a deployment may create; each must be named under the environment's prefix. */
const IAM_TYPES = ['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'];
/** What CloudFormation does for a role: create, tag, change its trust and policies, pass it to a service, delete. */
const ROLE_ACTIONS = [
  'iam:CreateRole', 'iam:DeleteRole', 'iam:GetRole', 'iam:UpdateRole', 'iam:UpdateRoleDescription', 'iam:UpdateAssumeRolePolicy',
  'iam:TagRole', 'iam:UntagRole', 'iam:ListRoleTags', 'iam:PutRolePolicy', 'iam:GetRolePolicy', 'iam:DeleteRolePolicy',
  'iam:ListRolePolicies', 'iam:AttachRolePolicy', 'iam:DetachRolePolicy', 'iam:ListAttachedRolePolicies',
  'iam:ListInstanceProfilesForRole', 'iam:PassRole',
];
/** What CloudFormation does for a customer managed policy (an update is a new default version). */
const POLICY_ACTIONS = [
  'iam:CreatePolicy', 'iam:DeletePolicy', 'iam:GetPolicy', 'iam:GetPolicyVersion', 'iam:ListPolicyVersions', 'iam:CreatePolicyVersion',
  'iam:DeletePolicyVersion', 'iam:SetDefaultPolicyVersion', 'iam:TagPolicy', 'iam:UntagPolicy', 'iam:ListPolicyTags', 'iam:ListEntitiesForPolicy',
];

export interface CloudFormationExecutionPolicyProps {
  /** Name of the managed policy (`cdk bootstrap --cloudformation-execution-policies` takes its ARN). */
  readonly managedPolicyName: string;
  /**
   * Start of every stack name of `deploys`, and so of every IAM role and policy they create: CloudFormation names
   * them `<stack name>-<logical id>-<suffix>`, and a name set in a template must start with it too.
   */
  readonly iamNamePrefix: string;
  /** The stacks deployed through the bootstrap roles with this policy. */
  readonly deploys: readonly Stack[];
  /** Roles no deployment may touch: the GitHub roles, whose trust is what guards the account. */
  readonly protectedRoles: readonly iam.IRole[];
  /** OIDC providers no deployment may touch. */
  readonly protectedProviders: readonly iam.IOidcProvider[];
}

/**
 * The policy for the CDK bootstrap's CloudFormation execution role, instead of the AdministratorAccess that
 * `cdk bootstrap` attaches by default: the services of `EXECUTION_POLICY_SERVICES`, IAM roles and policies only
 * under the environment's name prefix (plus service-linked roles), and the CDK bootstrap version parameter. It
 * denies every IAM action on the GitHub roles, the OIDC provider, the bootstrap roles and this policy itself,
 * whatever else the execution role holds: a deployment, even of an edited workflow, cannot widen its own rights.
 */
export class CloudFormationExecutionPolicy extends Construct {
  readonly policy: iam.ManagedPolicy;
  /** The services allowed, sorted. */
  readonly services: readonly string[];

  constructor(scope: Construct, id: string, props: CloudFormationExecutionPolicyProps) {
    super(scope, id);
    const problems = deployedStackProblems(this, props.deploys);
    if (!/^[A-Za-z0-9+=,.@_-]+$/.test(props.iamNamePrefix)) problems.push(`iamNamePrefix: got "${props.iamNamePrefix}"; allowed: characters of IAM names`);
    for (const stack of props.deploys) {
      if (!Token.isUnresolved(stack.stackName) && !stack.stackName.startsWith(`${props.iamNamePrefix}-`)) {
        problems.push(`deploys: ${stack.stackName} does not start with ${props.iamNamePrefix}-, so the roles CloudFormation names after it are outside the policy`);
      }
    }
    if (problems.length) throw new Error(`Invalid CloudFormationExecutionPolicy props:\n- ${problems.join('\n- ')}`);

    const stack = Stack.of(this);
    const iamArn = (resource: string, resourceName: string) => stack.formatArn({ service: 'iam', region: '', resource, resourceName });
    const targets = bootstrapTargets(props.deploys);
    this.services = [...new Set(Object.values(EXECUTION_POLICY_SERVICES).flat())].sort();
    const ownArn = iamArn('policy', props.managedPolicyName);
    const statements = [
      new iam.PolicyStatement({ sid: 'PlatformServices', actions: this.services.map((s) => `${s}:*`), resources: ['*'] }),
      new iam.PolicyStatement({ sid: 'PlatformRoles', actions: ROLE_ACTIONS, resources: [iamArn('role', `${props.iamNamePrefix}-*`)] }),
      new iam.PolicyStatement({ sid: 'PlatformPolicies', actions: POLICY_ACTIONS, resources: [iamArn('policy', `${props.iamNamePrefix}-*`)] }),
      // Application Auto Scaling of SageMaker variants creates its service-linked role on first use.
      new iam.PolicyStatement({ sid: 'ServiceLinkedRoles', actions: ['iam:CreateServiceLinkedRole'], resources: [iamArn('role', 'aws-service-role/*')] }),
      // Every CDK template has the BootstrapVersion parameter, an SSM parameter type that CloudFormation resolves
      // with the execution role.
      new iam.PolicyStatement({
        sid: 'CdkBootstrapVersion',
        actions: ['ssm:GetParameters'],
        resources: targets.map(({ qualifier, region }) => stack.formatArn({ service: 'ssm', region, resource: 'parameter', resourceName: `cdk-bootstrap/${qualifier}/version` })),
      }),
      new iam.PolicyStatement({
        sid: 'ProtectDeliveryAndBootstrap',
        effect: iam.Effect.DENY,
        actions: ['iam:*'],
        resources: [
          ...props.protectedRoles.map((r) => r.roleArn),
          ...props.protectedProviders.map((p) => p.oidcProviderArn),
          ownArn,
          ...[...new Set(targets.map((t) => t.qualifier))].map((q) => iamArn('role', `cdk-${q}-*`)),
        ],
      }),
    ];
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      managedPolicyName: props.managedPolicyName,
      description: `CloudFormation execution role of cdk bootstrap for ${props.iamNamePrefix}: the platform's services, IAM under ${props.iamNamePrefix}-*`,
      statements,
    });

    this.node.addValidation({ validate: () => this.coverageProblems(props) });

    const why =
      'The CloudFormation execution role must create, change and delete every resource type of the deployed stacks; ' +
      'each service allowed is one their templates use (EXECUTION_POLICY_SERVICES, checked against every resource type at synth), ' +
      'IAM is limited to roles and policies named under the environment prefix, and the GitHub roles, the OIDC provider, the bootstrap roles and this policy are denied';
    acknowledgeNag(
      this.policy,
      ...this.services.map((s) => ({ id: `AwsSolutions::AwsSolutions-IAM5[Action::${s}:*]`, reason: why })),
      { id: iam5ResourceFinding(this.policy, '*'), reason: why },
      { id: iam5ResourceFinding(this.policy, iamArn('role', `${props.iamNamePrefix}-*`)), reason: `CloudFormation names the roles of the stacks ${props.iamNamePrefix}-<stack>-<id>-<suffix>; the prefix is the environment` },
      { id: iam5ResourceFinding(this.policy, iamArn('policy', `${props.iamNamePrefix}-*`)), reason: `CloudFormation names the managed policies of the stacks ${props.iamNamePrefix}-<stack>-<id>-<suffix>; the prefix is the environment` },
      { id: iam5ResourceFinding(this.policy, iamArn('role', 'aws-service-role/*')), reason: 'iam:CreateServiceLinkedRole only: AWS names service-linked roles, and a service can only create its own' },
    );
    acknowledgeRuleInPacks(this.policy, 'IAMPolicyNoStatementsWithFullAccess', why);
    // Only the CloudFormation service can assume the execution role (cdk bootstrap's trust policy): no workflow or
    // person holds these permissions, they act through the templates the deploy role submits.
    const serviceOnly = 'Only cloudformation.amazonaws.com assumes the execution role (cdk bootstrap trust policy)';
    skipCheckov(
      this.policy,
      { id: 'CKV_AWS_107', comment: `${serviceOnly}; ecr:* creates the platform's repositories, and no caller receives an ECR token from it` },
      { id: 'CKV_AWS_108', comment: `${serviceOnly}; CloudFormation configures buckets, keys and queues, it reads no data out of them` },
      { id: 'CKV_AWS_109', comment: `${serviceOnly}; it sets the key, bucket, queue and topic policies the templates define, and IAM only under ${props.iamNamePrefix}-*` },
      {
        id: 'CKV_AWS_110',
        comment: `IAM writes only on roles and policies named ${props.iamNamePrefix}-*; the GitHub roles, the OIDC provider, the bootstrap roles and this policy are denied (docs/delivery.md names the permissions boundary that would close the rest)`,
      },
      { id: 'CKV_AWS_111', comment: `${serviceOnly}; it writes the resources of the services the templates use, whose names CloudFormation generates` },
    );
  }

  /** Every resource type of the deployed stacks is one the policy can create: its service is allowed, or it is an IAM role or policy under the prefix. */
  private coverageProblems(props: CloudFormationExecutionPolicyProps): string[] {
    const problems = new Set<string>();
    for (const deployed of props.deploys) {
      for (const c of deployed.node.findAll()) {
        if (!(c instanceof CfnResource) || Stack.of(c) !== deployed) continue;
        const type = c.cfnResourceType;
        if (type === 'AWS::CDK::Metadata') continue;
        if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') {
          // CloudFormation invokes the provider function with the execution role.
          if (!this.services.includes('lambda')) problems.add(`${type} (custom resource): lambda is not an allowed service`);
          continue;
        }
        const namespace = type.split('::').slice(0, 2).join('::');
        if (namespace === 'AWS::IAM' && !IAM_TYPES.includes(type)) {
          problems.add(`${type} (in ${deployed.stackName}): the execution policy manages IAM roles and policies only (${IAM_TYPES.join(', ')})`);
          continue;
        }
        if (IAM_TYPES.includes(type)) {
          const name = iamName(c);
          if (name !== undefined && !name.startsWith(`${props.iamNamePrefix}-`)) {
            problems.add(`${c.node.path} (${type}): named "${name}", outside ${props.iamNamePrefix}-*, which the execution policy manages`);
          }
          const iamPath = c instanceof iam.CfnRole ? c.path : c instanceof iam.CfnManagedPolicy ? c.path : undefined;
          if (iamPath !== undefined && !Token.isUnresolved(iamPath) && iamPath !== '/') {
            problems.add(`${c.node.path} (${type}): path "${iamPath}" puts its ARN outside ${props.iamNamePrefix}-*, which the execution policy manages; allowed: /`);
          }
          continue;
        }
        if (!EXECUTION_POLICY_SERVICES[namespace]) {
          problems.add(`${type} (in ${deployed.stackName}): no service of the execution policy creates it; add ${namespace} to EXECUTION_POLICY_SERVICES (lib/constructs/github-deploy-role.ts)`);
        }
      }
    }
    return [...problems];
  }
}

/** The name a template sets for an IAM role or managed policy, when it sets one as plain text. */
function iamName(resource: CfnResource): string | undefined {
  const name = resource instanceof iam.CfnRole ? resource.roleName : resource instanceof iam.CfnManagedPolicy ? resource.managedPolicyName : undefined;
  return name !== undefined && !Token.isUnresolved(name) ? name : undefined;
}
