import { Duration, LegacyStackSynthesizer, Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { huggingFaceTrainingImage } from '../config/container-images';
import { EnvironmentConfig } from '../config/environment-config';
import { environmentPrefix, resourceName } from '../config/naming';
import { CloudFormationExecutionPolicy, GitHubDeployRole, githubActionsOidcProvider } from '../constructs/github-deploy-role';
import { addOutputs } from './outputs';

export interface DeliveryStackProps extends StackProps {
  /** A validated config with `delivery` set. */
  readonly config: EnvironmentConfig;
  /** The environment's stacks, which the deploy role deploys; never this one. */
  readonly deploys: readonly Stack[];
}

/**
 * Deploying the environment from GitHub Actions (docs/delivery.md): the OIDC provider for GitHub (created or
 * imported), the deploy role that jobs of one repository and one GitHub environment assume, optionally a diff
 * role for pull requests, and the CloudFormation execution policy for `cdk bootstrap`.
 *
 * Deployed once, by an administrator with their own credentials: LegacyStackSynthesizer gives the CLI the
 * template inline and names no bootstrap role, so it needs no bootstrap (the execution policy must exist before
 * `cdk bootstrap` can name it), and no deployment through the bootstrap roles can change it (the execution
 * policy denies that). The workflow deploys every other stack and never this one.
 */
export class DeliveryStack extends Stack {
  readonly provider: iam.IOidcProvider;
  readonly deployRole: GitHubDeployRole;
  /** The role of `cdk diff` on pull requests, when `delivery.pullRequestDiff`. */
  readonly diffRole?: GitHubDeployRole;
  readonly executionPolicy: CloudFormationExecutionPolicy;

  constructor(scope: Construct, id: string, props: DeliveryStackProps) {
    super(scope, id, { ...props, synthesizer: new LegacyStackSynthesizer() });
    const { config } = props;
    const delivery = config.delivery;
    if (!delivery) throw new Error(`Invalid DeliveryStack props:\n- config.delivery: missing; the ${config.name} config deploys from no repository`);
    const { github } = delivery;
    const repository = { owner: github.owner, name: github.repository, ownerId: github.ownerId, repositoryId: github.repositoryId };
    const environment = github.environment ?? config.name;

    this.provider = githubActionsOidcProvider(this, 'GitHubOidcProvider', delivery.oidcProvider);
    this.deployRole = new GitHubDeployRole(this, 'DeployRole', {
      provider: this.provider,
      repository,
      environment,
      deploys: props.deploys,
      // `docker build` of the job image pulls its base, the region's AWS training DLC, with the role's own credentials.
      baseImageRepositories: config.training.images ? [] : [dlcRepositoryArn(this, huggingFaceTrainingImage(config.primaryRegion))],
      roleName: resourceName(config, 'github-deploy'),
      // The first deploy builds the job image on top of a DLC of several GB; an hour of credentials can run out.
      maxSessionDuration: Duration.hours(2),
    });
    this.diffRole = delivery.pullRequestDiff
      ? new GitHubDeployRole(this, 'DiffRole', { provider: this.provider, repository, pullRequestDiff: true, deploys: props.deploys, roleName: resourceName(config, 'github-diff') })
      : undefined;
    this.executionPolicy = new CloudFormationExecutionPolicy(this, 'ExecutionPolicy', {
      managedPolicyName: resourceName(config, 'cfn-execution'),
      iamNamePrefix: environmentPrefix(config),
      deploys: props.deploys,
      protectedRoles: [this.deployRole.role, ...(this.diffRole ? [this.diffRole.role] : [])],
      protectedProviders: [this.provider],
    });

    const variable = (what: string) => `${config.name.toUpperCase()}_${what}`;
    addOutputs(this, {
      DeployRoleArn: {
        value: this.deployRole.role.roleArn,
        description: `role-to-assume of the ${environment} job of .github/workflows/deploy.yml: the repository variable ${variable('DEPLOY_ROLE_ARN')}`,
      },
      ...(this.diffRole
        ? { DiffRoleArn: { value: this.diffRole.role.roleArn, description: `role-to-assume of the diff job of .github/workflows/pull-request.yml: the repository variable ${variable('DIFF_ROLE_ARN')}` } }
        : {}),
      ExecutionPolicyArn: {
        value: this.executionPolicy.policy.managedPolicyArn,
        description: 'cdk bootstrap --cloudformation-execution-policies <this> in each region of the environment, instead of the default administrator policy',
      },
    });
  }
}

/** The ECR repository ARN of an image URI `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`. */
function dlcRepositoryArn(scope: Stack, imageUri: string): string {
  const m = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)/.exec(imageUri);
  if (!m) throw new Error(`imageUri: got "${imageUri}"; allowed: an ECR image URI`);
  const [, account, region, repository] = m;
  return scope.formatArn({ service: 'ecr', account, region, resource: 'repository', resourceName: repository });
}
