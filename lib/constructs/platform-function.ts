import { Duration, Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { JobNetworkPlacement, MlServiceRole } from './ml-service-role';

/** Python runtime of the platform's functions: the newest CDK knows (cdk-nag requires it; the handlers need 3.11+). */
export const PLATFORM_PYTHON_RUNTIME = lambda.Runtime.PYTHON_3_15;

/** Node.js runtime of the platform's TypeScript functions: the newest CDK knows (cdk-nag requires it). */
export const PLATFORM_NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface PlatformFunctionProps {
  readonly code: lambda.Code;
  /** @default PLATFORM_PYTHON_RUNTIME */
  readonly runtime?: lambda.Runtime;
  /** `module.function`, e.g. `training.bedrock.handlers.prepare` or `index.approvalHandler`. */
  readonly handler: string;
  readonly description: string;
  /** Subnets and security group of the function's ENIs (isolated subnets: AWS APIs through VPC endpoints). */
  readonly placement: JobNetworkPlacement;
  /** Encrypts the log group and the environment variables; must admit CloudWatch Logs. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Receives events of failed asynchronous invocations. */
  readonly deadLetterQueue: sqs.IQueue;
  readonly timeout: Duration;
  /** @default 512 */
  readonly memorySizeMiB?: number;
  /** @default 512 */
  readonly ephemeralStorageMiB?: number;
  /** Concurrent executions kept for (and limited to) this function. */
  readonly reservedConcurrency: number;
  readonly environment?: Record<string, string>;
  /** A fixed name, for grants that must name the function before it exists (e.g. in another stack). @default - generated */
  readonly functionName?: string;
}

/**
 * A Lambda function with the platform's defaults: in the private subnets, its own KMS-encrypted log group
 * with retention, KMS-encrypted environment, reserved concurrency, X-Ray tracing, a dead-letter queue, and
 * an `MlServiceRole` whose grants go to one managed policy. The function gets the role as an immutable
 * reference, so nothing is added to the role behind the managed policy's back: every permission is granted
 * through `role`.
 */
export class PlatformFunction extends Construct {
  readonly fn: lambda.Function;
  readonly role: MlServiceRole;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PlatformFunctionProps) {
    super(scope, id);
    if (!Number.isInteger(props.reservedConcurrency) || props.reservedConcurrency < 1) {
      throw new Error(`Invalid PlatformFunction props:\n- reservedConcurrency: got ${props.reservedConcurrency}; allowed: a whole number >= 1`);
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', { encryptionKey: props.key, retention: props.logRetention });
    this.role = new MlServiceRole(this, 'Role', { trust: { service: 'lambda.amazonaws.com' }, description: props.description });
    this.role.allowLogGroup(this.logGroup);
    this.role.allowLambdaVpcAccess(props.placement);
    this.role.allowKeyUseVia(props.key, 'lambda', ['kms:Decrypt']);
    this.role.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] }),
    );
    this.role.allowSendMessages(props.deadLetterQueue);

    this.fn = new lambda.Function(this, 'Function', {
      functionName: props.functionName,
      runtime: props.runtime ?? PLATFORM_PYTHON_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      code: props.code,
      handler: props.handler,
      description: props.description,
      role: iam.Role.fromRoleArn(this, 'ExecutionRole', this.role.role.roleArn, { mutable: false }),
      vpc: props.placement.vpc,
      vpcSubnets: { subnets: props.placement.subnets },
      securityGroups: props.placement.securityGroups,
      logGroup: this.logGroup,
      environment: props.environment,
      environmentEncryption: props.key,
      tracing: lambda.Tracing.ACTIVE,
      deadLetterQueue: props.deadLetterQueue,
      reservedConcurrentExecutions: props.reservedConcurrency,
      timeout: props.timeout,
      memorySize: props.memorySizeMiB ?? 512,
      ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMiB ?? 512),
    });
    // The managed policy must be attached before Lambda checks the role's ENI permissions.
    this.fn.node.addDependency(this.role);
  }
}

