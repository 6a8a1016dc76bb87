import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeNag, iam5ResourceFinding } from './compliance';

/** The AWS service that assumes a role, with the confused-deputy conditions its trust policy carries. */
export interface ServiceTrust {
  /** e.g. `sagemaker.amazonaws.com`. */
  readonly service: string;
  /**
   * ARN pattern (in this account) of the service resources that may assume the role, set as
   * `aws:SourceArn` together with `aws:SourceAccount`. @default - no conditions
   */
  readonly sourceArnPattern?: string;
}

export interface MlServiceRoleProps {
  readonly trust: ServiceTrust;
  /** What the role is for, shown in IAM. */
  readonly description: string;
}

/** Where a job's ENIs may be placed. */
export interface JobNetworkPlacement {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.ISubnet[];
  readonly securityGroups: ec2.ISecurityGroup[];
}

/**
 * A role assumed by an ML service (SageMaker, Bedrock) with no permissions until a stack grants them:
 * through `MlBucket.grant*Objects` for data, and through the `allow*` methods below for everything else.
 * Each method grants the exact actions one capability needs, on the narrowest resource the API allows.
 * Statements go to one customer managed policy (not an inline policy), so they can be reviewed and
 * versioned on their own.
 */
export class MlServiceRole extends Construct implements iam.IGrantable {
  readonly role: iam.Role;
  /** Grants made through this principal land in `policy`. */
  readonly grantPrincipal: iam.IPrincipal;
  private managedPolicy?: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: MlServiceRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const principal = props.trust.sourceArnPattern
      ? new iam.ServicePrincipal(props.trust.service, {
          conditions: {
            StringEquals: { 'aws:SourceAccount': stack.account },
            ArnLike: { 'aws:SourceArn': props.trust.sourceArnPattern },
          },
        })
      : new iam.ServicePrincipal(props.trust.service);
    this.role = new iam.Role(this, 'Role', { assumedBy: principal, description: props.description });
    // Created with the first grant: an empty managed policy is invalid, and a role may get grants later.
    this.grantPrincipal = new ManagedPolicyPrincipal(this.role, () => {
      this.managedPolicy ??= new iam.ManagedPolicy(this, 'Policy', { roles: [this.role], description: props.description });
      return this.managedPolicy;
    });
  }

  /** The customer managed policy holding every statement granted to the role; undefined before the first grant. */
  get policy(): iam.ManagedPolicy | undefined {
    return this.managedPolicy;
  }

  /** Write to the log groups under `/aws/sagemaker/<group>` (e.g. TrainingJobs) that the service creates. */
  allowSageMakerLogs(group: 'TrainingJobs' | 'ProcessingJobs' | 'Endpoints' | 'TransformJobs'): void {
    const logGroup = Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `/aws/sagemaker/${group}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
        resources: [logGroup],
      }),
    );
    acknowledgeNag(this, {
      id: iam5ResourceFinding(this, logGroup),
      reason: `SageMaker names one log stream per job and instance at run time; access is limited to the /aws/sagemaker/${group} group`,
    });
  }

  /** Publish metrics in one CloudWatch namespace (PutMetricData has no resource-level permissions). */
  allowMetrics(namespace: string): void {
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': namespace } },
      }),
    );
    this.acknowledgeUnscopedApis();
  }

  /** Pull images from these repositories (the token call is account-wide by API design). */
  allowImagePull(...repositories: ecr.IRepository[]): void {
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
    );
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: repositories.map((r) => r.repositoryArn),
      }),
    );
    this.acknowledgeUnscopedApis();
  }

  /** sqs:SendMessage on one queue, and use of its key through SQS only (no wildcard key actions). */
  allowSendMessages(queue: sqs.IQueue): void {
    this.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
    if (queue.encryptionMasterKey) this.allowKeyUseVia(queue.encryptionMasterKey, 'sqs', ['kms:GenerateDataKey', 'kms:Decrypt']);
  }

  /** Receive and delete the messages of one queue (a Lambda event source), and decrypt them through SQS only. */
  allowConsumeMessages(queue: sqs.IQueue): void {
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
        resources: [queue.queueArn],
      }),
    );
    if (queue.encryptionMasterKey) this.allowKeyUseVia(queue.encryptionMasterKey, 'sqs', ['kms:Decrypt']);
  }

  /** sns:Publish on one topic, and use of its key through SNS only (no wildcard key actions). */
  allowPublish(topic: sns.ITopic): void {
    this.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }));
    if (topic.masterKey) this.allowKeyUseVia(topic.masterKey, 'sns', ['kms:GenerateDataKey', 'kms:Decrypt']);
  }

  /** Write to one log group: a Lambda function's or a state machine's own. */
  allowLogGroup(logGroup: logs.ILogGroup): void {
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn, `${logGroup.logGroupArn}:log-stream:*`],
      }),
    );
    acknowledgeNag(this, {
      id: iam5ResourceFinding(this, `${logGroup.logGroupArn}:log-stream:*`),
      reason: 'Log streams are created by the function at run time with generated names; the statement is limited to streams of its own log group',
    });
  }

  /**
   * What a state machine with logging to `logGroup` (level ALL) and X-Ray tracing needs: its log group, and
   * the log-delivery and tracing APIs, which have no resource-level permissions (Step Functions developer
   * guide, "IAM policies for logging to CloudWatch Logs" and "X-Ray").
   */
  allowStateMachineLogsAndTracing(logGroup: logs.ILogGroup): void {
    this.allowLogGroup(logGroup);
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'logs:CreateLogDelivery',
          'logs:GetLogDelivery',
          'logs:UpdateLogDelivery',
          'logs:DeleteLogDelivery',
          'logs:ListLogDeliveries',
          'logs:PutResourcePolicy',
          'logs:DescribeResourcePolicies',
          'logs:DescribeLogGroups',
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
        ],
        resources: ['*'],
      }),
    );
  }

  /**
   * What a Lambda function in a VPC needs for its ENIs (the actions of AWSLambdaVPCAccessExecutionRole),
   * limited to the given subnets and security groups and to ENIs in their VPC.
   */
  allowLambdaVpcAccess(placement: JobNetworkPlacement): void {
    this.allowVpcPlacement(placement);
    const ec2Arn = (resource: string, resourceName: string) => Stack.of(this).formatArn({ service: 'ec2', resource, resourceName });
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [ec2Arn('network-interface', '*')],
        conditions: { ArnEquals: { 'ec2:Vpc': ec2Arn('vpc', placement.vpc.vpcId) } },
      }),
    );
  }

  /**
   * Create and remove the ENIs that put a job in the given subnets and security groups, and nowhere else.
   * The Describe calls have no resource-level permissions.
   */
  allowVpcPlacement(placement: JobNetworkPlacement): void {
    const stack = Stack.of(this);
    const ec2Arn = (resource: string, resourceName: string) => stack.formatArn({ service: 'ec2', resource, resourceName });
    const anyEni = ec2Arn('network-interface', '*');
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:DescribeDhcpOptions',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSecurityGroups',
          'ec2:DescribeSubnets',
          'ec2:DescribeVpcs',
        ],
        resources: ['*'],
      }),
    );
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface'],
        resources: [
          ...placement.subnets.map((s) => ec2Arn('subnet', s.subnetId)),
          ...placement.securityGroups.map((g) => ec2Arn('security-group', g.securityGroupId)),
        ],
      }),
    );
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:CreateNetworkInterfacePermission',
          'ec2:DeleteNetworkInterface',
          'ec2:DeleteNetworkInterfacePermission',
          'ec2:CreateTags',
        ],
        resources: [anyEni],
        conditions: { ArnEquals: { 'ec2:Vpc': ec2Arn('vpc', placement.vpc.vpcId) } },
      }),
    );
    this.acknowledgeUnscopedApis();
    acknowledgeNag(this, {
      id: iam5ResourceFinding(this, anyEni),
      reason: 'ENI ids are assigned when the service creates them; the ec2:Vpc condition limits the statement to the platform VPC',
    });
  }

  /** Use a key through one service only (`kms:ViaService`), e.g. Bedrock for the custom-model key. */
  allowKeyUseVia(key: kms.IKey, viaService: string, actions: string[]): void {
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions,
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `${viaService}.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }

  /** Let this role hand the given roles to one service, e.g. a pipeline passing job roles to SageMaker. */
  allowPassRole(service: string, ...roles: iam.IRole[]): void {
    this.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: roles.map((r) => r.roleArn),
        conditions: { StringEquals: { 'iam:PassedToService': service } },
      }),
    );
  }

  private acknowledgeUnscopedApis(): void {
    acknowledgeNag(this, {
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only cloudwatch:PutMetricData (limited by the cloudwatch:namespace condition), ec2:Describe* and ecr:GetAuthorizationToken use *: these APIs have no resource-level permissions',
    });
  }
}

/**
 * The role as a grant target whose new statements go to the managed policy instead of an inline default
 * policy (which HIPAA, NIST 800-53 and PCI DSS checks reject).
 */
class ManagedPolicyPrincipal implements iam.IPrincipal {
  readonly grantPrincipal: iam.IPrincipal = this;
  readonly assumeRoleAction: string;
  readonly principalAccount: string | undefined;

  constructor(
    private readonly role: iam.Role,
    private readonly policy: () => iam.ManagedPolicy,
  ) {
    this.assumeRoleAction = role.assumeRoleAction;
    this.principalAccount = role.principalAccount;
  }

  get policyFragment(): iam.PrincipalPolicyFragment {
    return this.role.policyFragment;
  }

  addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    const policy = this.policy();
    policy.addStatements(statement);
    return { statementAdded: true, policyDependable: policy };
  }

  addToPolicy(statement: iam.PolicyStatement): boolean {
    return this.addToPrincipalPolicy(statement).statementAdded;
  }
}
