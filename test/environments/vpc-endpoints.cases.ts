import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { EnvironmentConfig, INTERFACE_ENDPOINT_NAMES, InterfaceEndpointName, NetworkConfig } from '../../lib/config/environment-config';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { FineTuningPlatform } from '../../lib/fine-tuning-platform';
import { configWith, synthesizeEnvironment } from '../support/app';

/**
 * The workload subnets have no NAT: a VPC-attached function's code reaches AWS APIs only through the interface
 * endpoints of `network.interfaceEndpoints` and S3 through the gateway endpoint. A function whose role allows
 * an API without its endpoint times out in production (a function once published to SNS with no SNS endpoint).
 * This check reads every stack's template: each VPC-attached function's execution role, every allowed action
 * of every policy attached to it, the endpoint that action's SDK call needs, and whether the network gives
 * the function a path to that endpoint.
 */

/** Every stack's template as CloudFormation JSON, keyed by stack name. */
export type Templates = Record<string, { Resources?: Record<string, any>; Outputs?: Record<string, any> }>;

/** The VPC endpoint behind S3 calls: the gateway, not an interface endpoint of the config. */
export const S3_GATEWAY = 's3 (gateway endpoint)';
/** The VPC endpoint behind DynamoDB calls (the inference API's answer cache): a gateway too. */
export const DYNAMODB_GATEWAY = 'dynamodb (gateway endpoint)';
/** The end of each gateway endpoint's ServiceName (com.amazonaws.<region>.<suffix>). */
const GATEWAY_SERVICE_SUFFIX: Record<string, string> = { [S3_GATEWAY]: '.s3', [DYNAMODB_GATEWAY]: '.dynamodb' };

/**
 * Actions the Lambda SERVICE performs with the function's role, for the function, from outside the function's
 * ENIs: none of them is a call of the function's code, so none needs an endpoint in its subnets. Anything not
 * matched here is taken for a call of the function's code.
 */
export const LAMBDA_SERVICE_CALLS: ReadonlyArray<{ readonly calls: string; readonly reason: string; readonly applies: (call: AllowedCall) => boolean }> = [
  {
    calls: 'logs:*',
    reason: "Lambda writes what the function prints to the function's log group itself; the code never calls CloudWatch Logs",
    applies: (c) => c.service === 'logs',
  },
  {
    calls: 'xray:*',
    reason: "with active tracing Lambda's own X-Ray daemon sends the trace segments and telemetry, not through the function's ENIs",
    applies: (c) => c.service === 'xray',
  },
  {
    calls: 'ec2:*',
    reason: "Lambda creates, describes and deletes the function's Hyperplane ENIs in its subnets when the function is created or updated",
    applies: (c) => c.service === 'ec2',
  },
  {
    calls: 'kms:* under a kms:ViaService condition',
    reason:
      'key use inside another call: Lambda decrypting the environment (kms:ViaService lambda) or SQS, SNS, S3, Bedrock, SageMaker using a key for the caller; ' +
      "the endpoint that call needs is checked with its own action. kms actions without the condition are the code's and need the 'kms' endpoint",
    applies: (c) => c.service === 'kms' && conditionKeys(c.statement).includes('kms:viaservice'),
  },
  {
    calls: 'iam:PassRole',
    reason: 'not an API: IAM checks it inside the call that hands the role to another service (iam:PassedToService), whose own action is checked',
    applies: (c) => c.action === 'iam:passrole',
  },
  {
    calls: "sqs:SendMessage on the function's DeadLetterConfig.TargetArn",
    reason: 'Lambda sends the events of failed asynchronous invocations to the dead-letter queue itself',
    applies: (c) => c.action === 'sqs:sendmessage' && c.resource !== undefined && c.resource === c.fn.deadLetterQueue,
  },
  {
    calls: "sqs:ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes on the EventSourceArn of the function's event source mappings",
    reason: "Lambda's pollers read the queue, hand the batches to the function and delete what it processed",
    applies: (c) =>
      ['sqs:receivemessage', 'sqs:deletemessage', 'sqs:changemessagevisibility', 'sqs:getqueueattributes'].includes(c.action) &&
      c.resource !== undefined &&
      c.fn.polledQueues.includes(c.resource),
  },
];

/** Services whose API is split over two endpoints: the runtime (data plane) operations and all the others. */
const SPLIT_SERVICES: Record<string, { runtime: string; runtimeActions: readonly string[]; other: string }> = {
  sagemaker: { runtime: 'sagemaker-runtime', runtimeActions: ['invokeendpoint'], other: 'sagemaker-api' },
  // The Bedrock Runtime API: InvokeModel*, Converse*, ApplyGuardrail, CountTokens and the async invocations.
  bedrock: {
    runtime: 'bedrock-runtime',
    runtimeActions: ['invokemodel', 'converse', 'applyguardrail', 'counttokens', 'getasyncinvoke', 'listasyncinvokes'],
    other: 'bedrock',
  },
};

/** The endpoint of every other service a function's code may call. */
const ENDPOINT_OF_SERVICE: Record<string, string> = {
  sns: 'sns',
  sqs: 'sqs',
  cloudwatch: 'monitoring',
  sts: 'sts',
  ecr: 'ecr-api',
  kms: 'kms',
  states: 'states',
  cloudformation: 'cloudformation',
  s3: S3_GATEWAY,
  dynamodb: DYNAMODB_GATEWAY,
};

/** The end of each interface endpoint's ServiceName (com.amazonaws.<region>.<suffix>). */
const SERVICE_NAME_SUFFIX: Record<InterfaceEndpointName, string> = {
  'sagemaker-api': 'sagemaker.api',
  'sagemaker-runtime': 'sagemaker.runtime',
  'ecr-api': 'ecr.api',
  'ecr-docker': 'ecr.dkr',
  logs: 'logs',
  monitoring: 'monitoring',
  sts: 'sts',
  kms: 'kms',
  bedrock: 'bedrock',
  'bedrock-runtime': 'bedrock-runtime',
  sns: 'sns',
  sqs: 'sqs',
  states: 'states',
  cloudformation: 'cloudformation',
  'execute-api': 'execute-api',
};

/** AWS managed policies a Lambda role may carry, with their statements (they are not in any template). */
const AWS_MANAGED_POLICIES: Record<string, readonly string[]> = {
  'service-role/AWSLambdaBasicExecutionRole': ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
  'service-role/AWSLambdaVPCAccessExecutionRole': [
    'logs:CreateLogGroup',
    'logs:CreateLogStream',
    'logs:PutLogEvents',
    'ec2:CreateNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSubnets',
    'ec2:DeleteNetworkInterface',
    'ec2:AssignPrivateIpAddresses',
    'ec2:UnassignPrivateIpAddresses',
  ],
  AWSXRayDaemonWriteAccess: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'],
};

/** One VPC-attached function, with what the Lambda service does for it (keys as `identity` gives them). */
interface VpcFunction {
  /** `stack/logicalId` */
  readonly name: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  readonly deadLetterQueue?: string;
  readonly polledQueues: readonly string[];
}

/** One allowed action on one resource, of one statement attached to a function's role. */
export interface AllowedCall {
  /** Lower case, as IAM compares them. */
  readonly action: string;
  readonly service: string;
  /** The resource's identity; undefined for `*` and NotResource. */
  readonly resource?: string;
  readonly statement: any;
  readonly fn: VpcFunction;
}

export interface FunctionNeeds {
  /** `stack/logicalId` of the function. */
  readonly fn: string;
  /** Each endpoint the function's code needs, with the actions (as written in the policies) that need it. */
  readonly needs: Record<string, string[]>;
}

export interface ReachabilityReport {
  readonly functions: FunctionNeeds[];
  /** Each function, action and endpoint that its subnets cannot reach; empty when all is reachable. */
  readonly findings: string[];
  /** Why the endpoints were not checked (NAT gateways reach every API). */
  readonly skipped?: string;
}

/** Every stack of a synthesized environment, as `Templates`. */
export function templatesOf(platform: FineTuningPlatform): Templates {
  return Object.fromEntries(platform.stacks.map((s) => [s.stackName, Template.fromStack(s).toJSON()]));
}

/**
 * Which endpoints each VPC-attached function of `templates` needs for the calls its role allows, and which of
 * them its subnets cannot reach under `network`: not listed in `network.interfaceEndpoints`, not an endpoint
 * the network stack can create, or listed but without a path from the function (no endpoint in the templates,
 * no private DNS, security groups that do not admit HTTPS). With NAT gateways the endpoints are not checked.
 */
export function checkLambdaApiReachability(templates: Templates, network: NetworkConfig): ReachabilityReport {
  const functions: FunctionNeeds[] = [];
  const findings: string[] = [];
  const skipped = network.natGateways > 0 ? `natGateways is ${network.natGateways}: the workload subnets reach AWS APIs through NAT, not only through VPC endpoints` : undefined;
  for (const [stack, template] of Object.entries(templates)) {
    for (const [id, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type !== 'AWS::Lambda::Function' || !resource.Properties?.VpcConfig) continue;
      const fn = vpcFunction(templates, stack, id, resource.Properties);
      const needs: Record<string, string[]> = {};
      const need = (endpoint: string, action: string) => {
        needs[endpoint] = needs[endpoint] ?? [];
        if (!needs[endpoint].includes(action)) needs[endpoint].push(action);
      };
      const role = roleOf(templates, stack, resource.Properties.Role);
      if (!role) {
        findings.push(`${fn.name}: its execution role ${JSON.stringify(resource.Properties.Role)} is not a role of these stacks; its calls cannot be checked`);
        continue;
      }
      const { statements, problems } = statementsOf(templates, role);
      findings.push(...problems.map((p) => `${fn.name}: ${p}`));
      if (statements.length === 0) findings.push(`${fn.name}: no policy statement attached to its role ${role}; the check would pass without looking`);
      for (const { stack: policyStack, statement } of statements) {
        if (statement.Effect !== 'Allow') continue;
        if (statement.NotAction !== undefined) {
          findings.push(`${fn.name}: a NotAction statement (${JSON.stringify(statement.NotAction)}) allows APIs that cannot be listed`);
          continue;
        }
        const resources = statement.Resource === undefined ? [undefined] : [statement.Resource].flat().map((r: unknown) => (r === '*' ? undefined : identity(templates, policyStack, r)));
        for (const written of [statement.Action].flat() as string[]) {
          const action = written.toLowerCase();
          const service = action.includes(':') ? action.slice(0, action.indexOf(':')) : action;
          const byCode = resources.filter((r) => !LAMBDA_SERVICE_CALLS.some((e) => e.applies({ action, service, resource: r, statement, fn })));
          if (byCode.length === 0) continue;
          const endpoints = endpointsOf(action);
          if (typeof endpoints === 'string') findings.push(`${fn.name}: ${written}: ${endpoints}`);
          else endpoints.forEach((e) => need(e, written));
        }
      }
      functions.push({ fn: fn.name, needs });
      if (skipped) continue;
      for (const [endpoint, actions] of Object.entries(needs)) {
        const missing = unreachable(templates, network, fn, endpoint);
        if (missing) findings.push(`${fn.name}: ${actions.join(', ')} needs ${GATEWAY_SERVICE_SUFFIX[endpoint] ? `the ${endpoint === S3_GATEWAY ? 'S3' : 'DynamoDB'} gateway endpoint` : `the '${endpoint}' interface endpoint`}: ${missing}`);
      }
    }
  }
  return { functions, findings, skipped };
}

/** The endpoints a call of `action` (lower case, perhaps with wildcards) may need, or why none is known. */
function endpointsOf(action: string): string[] | string {
  if (!action.includes(':')) return `'${action}' allows every API; name the actions`;
  const [service, name] = action.split(':');
  const split = SPLIT_SERVICES[service];
  if (split) {
    const literal = name.split(/[*?]/)[0];
    const wildcard = literal !== name;
    const runtime = split.runtimeActions.some((a) => literal.startsWith(a) || (wildcard && a.startsWith(literal)));
    const other = !split.runtimeActions.some((a) => literal.startsWith(a));
    return [...(runtime ? [split.runtime] : []), ...(other ? [split.other] : [])];
  }
  const endpoint = ENDPOINT_OF_SERVICE[service];
  if (endpoint) return [endpoint];
  return `no VPC endpoint is known for '${service}:' actions: map the service in ENDPOINT_OF_SERVICE, or, if Lambda makes the call, add it to LAMBDA_SERVICE_CALLS`;
}

/** Why `fn` cannot reach `endpoint` under `network`, or undefined when it can. */
function unreachable(templates: Templates, network: NetworkConfig, fn: VpcFunction, endpoint: string): string | undefined {
  const endpoints = resourcesOfType(templates, 'AWS::EC2::VPCEndpoint');
  const gatewaySuffix = GATEWAY_SERVICE_SUFFIX[endpoint];
  if (gatewaySuffix) {
    const what = endpoint === S3_GATEWAY ? 'S3' : 'DynamoDB';
    const gateways = endpoints.filter((e) => e.r.Properties.VpcEndpointType === 'Gateway' && textOf(e.r.Properties.ServiceName).endsWith(gatewaySuffix));
    if (gateways.length === 0) return `no ${what} gateway endpoint in the templates`;
    const routeTables = new Set(gateways.flatMap((g) => (g.r.Properties.RouteTableIds ?? []).map((t: unknown) => identity(templates, g.stack, t))));
    const unrouted = fn.subnets.filter((s) => !routeTablesOf(templates, s).some((t) => routeTables.has(t)));
    if (unrouted.length) return `the route tables of subnets ${unrouted.join(', ')} have no route to the ${what} gateway endpoint`;
    if (!fn.securityGroups.some((sg) => allowsHttpsOut(templates, sg, { prefixList: true }))) return `no security group of the function allows HTTPS out to ${what} (${fn.securityGroups.join(', ')})`;
    return undefined;
  }
  if (!(INTERFACE_ENDPOINT_NAMES as readonly string[]).includes(endpoint)) {
    return `not an interface endpoint the network stack can create (INTERFACE_ENDPOINT_NAMES: ${INTERFACE_ENDPOINT_NAMES.join(', ')}) and natGateways is 0`;
  }
  if (!(network.interfaceEndpoints as readonly string[]).includes(endpoint)) {
    return `not in network.interfaceEndpoints (${network.interfaceEndpoints.join(', ')}) and natGateways is 0`;
  }
  const suffix = SERVICE_NAME_SUFFIX[endpoint as InterfaceEndpointName];
  if (!suffix) return `no ServiceName is known for '${endpoint}': add it to SERVICE_NAME_SUFFIX`;
  const found = endpoints.filter((e) => e.r.Properties.VpcEndpointType === 'Interface' && textOf(e.r.Properties.ServiceName).endsWith(`.${suffix}`));
  if (found.length === 0) return `configured, but no interface endpoint for *.${suffix} in the templates`;
  const usable = found.filter((e) => e.r.Properties.PrivateDnsEnabled === true);
  if (usable.length === 0) return "its endpoint has no private DNS: the SDK's default hostname would not resolve to it";
  const admitted = usable.some((e) =>
    (e.r.Properties.SecurityGroupIds ?? []).some((group: unknown) => {
      const sg = identity(templates, e.stack, group);
      return allowsHttpsIn(templates, sg, fn.securityGroups, network.vpcCidr) && fn.securityGroups.some((own) => allowsHttpsOut(templates, own, { securityGroup: sg }));
    }),
  );
  if (!admitted) return `the security groups of the function (${fn.securityGroups.join(', ')}) and of the endpoint do not let HTTPS through`;
  return undefined;
}

/** The function as the checks need it: subnets, security groups, and the queues Lambda works on for it. */
function vpcFunction(templates: Templates, stack: string, id: string, p: any): VpcFunction {
  const self = `${stack}/${id}`;
  const polledQueues = resourcesOfType(templates, 'AWS::Lambda::EventSourceMapping')
    .filter((m) => identity(templates, m.stack, m.r.Properties.FunctionName) === self)
    .map((m) => identity(templates, m.stack, m.r.Properties.EventSourceArn));
  return {
    name: self,
    subnets: (p.VpcConfig.SubnetIds ?? []).map((s: unknown) => identity(templates, stack, s)),
    securityGroups: (p.VpcConfig.SecurityGroupIds ?? []).map((s: unknown) => identity(templates, stack, s)),
    deadLetterQueue: p.DeadLetterConfig?.TargetArn === undefined ? undefined : identity(templates, stack, p.DeadLetterConfig.TargetArn),
    polledQueues,
  };
}

/**
 * Every statement of every policy attached to `role` (`stack/logicalId`), in any stack, with the stack its
 * references belong to, and what could not be read.
 */
function statementsOf(templates: Templates, role: string): { statements: Array<{ stack: string; statement: any }>; problems: string[] } {
  const statements: Array<{ stack: string; statement: any }> = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const add = (key: string, document: any) => {
    if (seen.has(key)) return;
    seen.add(key);
    statements.push(...[document?.Statement ?? []].flat().map((statement: any) => ({ stack: splitKey(key)[0], statement })));
  };
  for (const { stack, id, r } of resourcesOfType(templates, 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy')) {
    if ((r.Properties.Roles ?? []).some((x: unknown) => roleOf(templates, stack, x) === role)) add(`${stack}/${id}`, r.Properties.PolicyDocument);
  }
  for (const { stack, id, r } of resourcesOfType(templates, 'AWS::IAM::RolePolicy')) {
    if (roleOf(templates, stack, r.Properties.RoleName) === role) add(`${stack}/${id}`, r.Properties.PolicyDocument);
  }
  const [roleStack, roleId] = splitKey(role);
  const props = templates[roleStack].Resources![roleId].Properties ?? {};
  (props.Policies ?? []).forEach((p: any, i: number) => add(`${role}/Policies/${i}`, p.PolicyDocument));
  for (const arn of props.ManagedPolicyArns ?? []) {
    const policy = resourceOf(templates, roleStack, arn);
    const resolved = policy && resourceAt(templates, policy);
    if (resolved?.Type === 'AWS::IAM::ManagedPolicy') {
      add(policy!, resolved.Properties.PolicyDocument);
      continue;
    }
    const awsManaged = /:iam::aws:policy\/(.+)$/.exec(textOf(arn))?.[1];
    const actions = awsManaged === undefined ? undefined : AWS_MANAGED_POLICIES[awsManaged];
    if (actions) add(`aws-managed/${awsManaged}`, { Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] });
    else problems.push(`managed policy ${JSON.stringify(arn)} of its role is neither in these stacks nor a known AWS managed policy; its actions cannot be checked`);
  }
  return { statements, problems };
}

/** The route tables associated with `subnet` (an identity). */
function routeTablesOf(templates: Templates, subnet: string): string[] {
  return resourcesOfType(templates, 'AWS::EC2::SubnetRouteTableAssociation')
    .filter((a) => identity(templates, a.stack, a.r.Properties.SubnetId) === subnet)
    .map((a) => identity(templates, a.stack, a.r.Properties.RouteTableId));
}

const allowsHttps = (rule: any) =>
  String(rule.IpProtocol) === '-1' || (['tcp', '6'].includes(String(rule.IpProtocol)) && Number(rule.FromPort) <= 443 && Number(rule.ToPort) >= 443);

/** Rules of the security group `sg` (an identity): inline and as separate resources; undefined inline when it has none. */
function rulesOf(templates: Templates, sg: string, direction: 'Ingress' | 'Egress'): { inline?: any[]; separate: Array<{ stack: string; rule: any }> } {
  const group = resourceAt(templates, sg);
  const separate = resourcesOfType(templates, `AWS::EC2::Security${direction === 'Ingress' ? 'GroupIngress' : 'GroupEgress'}`)
    .filter((x) => identity(templates, x.stack, x.r.Properties.GroupId) === sg)
    .map((x) => ({ stack: x.stack, rule: x.r.Properties }));
  return { inline: group?.Properties?.[`SecurityGroup${direction}`], separate };
}

/** Whether `sg` lets HTTPS out to anywhere, to `to.securityGroup`, or (for S3) to a prefix list. */
function allowsHttpsOut(templates: Templates, sg: string, to: { securityGroup?: string; prefixList?: boolean }): boolean {
  const [stack] = splitKey(sg);
  const { inline, separate } = rulesOf(templates, sg, 'Egress');
  // Without any egress rule CloudFormation keeps the default rule: all traffic out.
  if (resourceAt(templates, sg) && inline === undefined && separate.length === 0) return true;
  return [...(inline ?? []).map((rule) => ({ stack, rule })), ...separate].some(
    ({ stack: s, rule }) =>
      allowsHttps(rule) &&
      (rule.CidrIp === '0.0.0.0/0' ||
        (to.securityGroup !== undefined && rule.DestinationSecurityGroupId !== undefined && identity(templates, s, rule.DestinationSecurityGroupId) === to.securityGroup) ||
        (to.prefixList === true && rule.DestinationPrefixListId !== undefined)),
  );
}

/** Whether `sg` admits HTTPS from one of `from` (identities), from the VPC's range, or from anywhere. */
function allowsHttpsIn(templates: Templates, sg: string, from: readonly string[], vpcCidr: string): boolean {
  const [stack] = splitKey(sg);
  const { inline, separate } = rulesOf(templates, sg, 'Ingress');
  return [...(inline ?? []).map((rule) => ({ stack, rule })), ...separate].some(
    ({ stack: s, rule }) =>
      allowsHttps(rule) &&
      (rule.CidrIp === '0.0.0.0/0' ||
        rule.CidrIp === vpcCidr ||
        (rule.SourceSecurityGroupId !== undefined && from.includes(identity(templates, s, rule.SourceSecurityGroupId)))),
  );
}

// ------------------------------------------------------------------------------------- template references

function resourcesOfType(templates: Templates, ...types: string[]): Array<{ stack: string; id: string; r: any }> {
  return Object.entries(templates).flatMap(([stack, t]) =>
    Object.entries(t.Resources ?? {})
      .filter(([, r]) => types.includes(r.Type))
      .map(([id, r]) => ({ stack, id, r })),
  );
}

const splitKey = (key: string): [string, string] => [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
const resourceAt = (templates: Templates, key: string): any => {
  const [stack, id] = splitKey(key);
  return templates[stack]?.Resources?.[id];
};

/**
 * The resource (`stack/logicalId`) that `expr` in `stack` names: Ref and Fn::GetAtt of the stack's own
 * resources, and the cross-stack forms (Fn::GetStackOutput, Fn::ImportValue) followed to their output's value.
 */
function resourceOf(templates: Templates, stack: string, expr: any): string | undefined {
  if (expr === null || typeof expr !== 'object' || Array.isArray(expr)) return undefined;
  const resources = templates[stack]?.Resources ?? {};
  if (typeof expr.Ref === 'string') return expr.Ref in resources ? `${stack}/${expr.Ref}` : undefined;
  if (expr['Fn::GetAtt'] !== undefined) {
    const target = [expr['Fn::GetAtt']].flat()[0];
    const id = typeof target === 'string' ? target.split('.')[0] : undefined;
    return id !== undefined && id in resources ? `${stack}/${id}` : undefined;
  }
  const output = expr['Fn::GetStackOutput'];
  if (output !== undefined) {
    const value = templates[output.StackName]?.Outputs?.[output.OutputName]?.Value;
    return value === undefined ? undefined : resourceOf(templates, output.StackName, value);
  }
  if (expr['Fn::ImportValue'] !== undefined) {
    for (const [other, t] of Object.entries(templates)) {
      for (const o of Object.values(t.Outputs ?? {})) {
        if (o.Export?.Name !== undefined && JSON.stringify(o.Export.Name) === JSON.stringify(expr['Fn::ImportValue'])) return resourceOf(templates, other, o.Value);
      }
    }
  }
  return undefined;
}

/** A key to compare references by: the resource named, else the expression's text. */
function identity(templates: Templates, stack: string, expr: unknown): string {
  return resourceOf(templates, stack, expr) ?? JSON.stringify(expr);
}

/** The role (`stack/logicalId`) that `expr` names: directly, inside an ARN-to-name expression, or by RoleName. */
function roleOf(templates: Templates, stack: string, expr: any): string | undefined {
  const direct = resourceOf(templates, stack, expr);
  if (direct && resourceAt(templates, direct)?.Type === 'AWS::IAM::Role') return direct;
  const text = textOf(expr);
  const name = /:role\/(?:.*\/)?([^/]+)$/.exec(text)?.[1] ?? (text.includes('<token>') ? undefined : text);
  if (name) {
    const byName = resourcesOfType(templates, 'AWS::IAM::Role').find((r) => r.r.Properties?.RoleName === name);
    if (byName) return `${byName.stack}/${byName.id}`;
  }
  if (expr !== null && typeof expr === 'object') {
    for (const inner of Object.values(expr).flat()) {
      const found = roleOf(templates, stack, inner);
      if (found) return found;
    }
  }
  return undefined;
}

/** A string or Fn::Join/Fn::Sub as text, with '<token>' for every part that is not literal. */
function textOf(expr: any): string {
  if (typeof expr === 'string') return expr;
  if (expr && Array.isArray(expr['Fn::Join'])) {
    const [separator, parts] = expr['Fn::Join'];
    return (parts as unknown[]).map(textOf).join(separator);
  }
  if (expr && typeof expr['Fn::Sub'] === 'string') return expr['Fn::Sub'];
  return '<token>';
}

/** Condition keys of a statement, lower case. */
function conditionKeys(statement: any): string[] {
  return Object.values(statement.Condition ?? {}).flatMap((block: any) => Object.keys(block ?? {}).map((k) => k.toLowerCase()));
}

// ---------------------------------------------------------------------------------------------------- tests

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');

/** Every environment, plus prod serving the fixture (its canary calls the endpoints). */
const CONFIGS: Record<string, EnvironmentConfig> = {
  ...ENVIRONMENTS,
  'prod serving the fixture': loadEnvironmentConfig('prod', FIXTURE),
};

describe.each(Object.keys(CONFIGS))('VPC endpoints for Lambda code: %s', (envName) => {
  const config = CONFIGS[envName];
  const report = checkLambdaApiReachability(templatesOf(synthesizeEnvironment(config).platform), config.network);
  const isolated = config.network.natGateways === 0;

  test('finds the VPC-attached functions (a role without policies is a finding of the next test)', () => {
    expect(report.functions.length).toBeGreaterThan(0);
  });

  (isolated ? test : test.skip)(
    isolated
      ? 'every API the code of a function may call is reachable from its isolated subnets'
      : `every API the code of a function may call is reachable (skipped: natGateways ${config.network.natGateways} reaches AWS APIs through NAT)`,
    () => {
      expect(report.skipped).toBeUndefined();
      expect(report.findings).toEqual([]);
    },
  );
});

describe('VPC endpoints for Lambda code: the check can fail', () => {
  const dev = ENVIRONMENTS.dev;
  const templates = templatesOf(synthesizeEnvironment(dev).platform);
  const without = (name: string) => configWith(dev, (c) => (c.network.interfaceEndpoints = c.network.interfaceEndpoints.filter((e: string) => e !== name))).network;
  const guard = (r: ReachabilityReport) => r.findings.filter((f) => /\/ThroughputGuardHandlerFunction[0-9A-F]{8}:/.test(f));
  /** A copy of the templates with `statement` added to the managed policy of the throughput guard's role. */
  const withGuardStatement = (statement: object): Templates => {
    const copy: Templates = JSON.parse(JSON.stringify(templates));
    const policy = Object.entries(copy['fmft-dev-bedrock'].Resources!).find(([id, r]) => id.startsWith('ThroughputGuardHandlerRolePolicy') && r.Type === 'AWS::IAM::ManagedPolicy');
    expect(policy).toBeDefined();
    policy![1].Properties.PolicyDocument.Statement.push(statement);
    return copy;
  };

  test("without 'sns' in network.interfaceEndpoints, the functions that publish are reported, by name, action and endpoint", () => {
    const report = checkLambdaApiReachability(templates, without('sns'));
    expect(report.findings.length).toBeGreaterThan(0);
    expect(report.findings.every((f) => f.includes("sns:Publish needs the 'sns' interface endpoint: not in network.interfaceEndpoints"))).toBe(true);
    expect(guard(report)).toEqual([expect.stringMatching(/^fmft-dev-bedrock\/ThroughputGuardHandlerFunction[0-9A-F]{8}: sns:Publish needs the 'sns' interface endpoint/)]);
    expect(report.findings).toEqual(expect.arrayContaining([expect.stringMatching(/^fmft-dev-pipelines\/RetrainingTriggerHandlerFunction[0-9A-F]{8}: sns:Publish/)]));
  });

  test("without 'sqs', only sends to a queue that is not the function's dead-letter queue are reported, and never Lambda's polling", () => {
    const report = checkLambdaApiReachability(templates, without('sqs'));
    // Every function may send to its dead-letter queue; the retraining trigger also sends to its request queue, which
    // Lambda polls for it (ReceiveMessage, DeleteMessage, ... are Lambda's).
    expect(report.findings).toEqual(
      expect.arrayContaining([expect.stringMatching(/^fmft-dev-pipelines\/RetrainingTriggerHandlerFunction[0-9A-F]{8}: sqs:SendMessage needs the 'sqs' interface endpoint/)]),
    );
    expect(guard(report)).toEqual([]);
    expect(report.findings.filter((f) => /\/PrepareFunction|sqs:(ReceiveMessage|DeleteMessage|ChangeMessageVisibility|GetQueueAttributes)/.test(f))).toEqual([]);
  });

  test('a configured endpoint missing from the templates, and a missing S3 gateway, are reported', () => {
    const copy: Templates = JSON.parse(JSON.stringify(templates));
    const resources = copy['fmft-dev-network'].Resources!;
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::EC2::VPCEndpoint' && (r.Properties.VpcEndpointType === 'Gateway' || String(r.Properties.ServiceName).endsWith('.sns'))) delete resources[id];
    }
    const findings = checkLambdaApiReachability(copy, dev.network).findings;
    expect(guard({ functions: [], findings })).toEqual([expect.stringContaining("sns:Publish needs the 'sns' interface endpoint: configured, but no interface endpoint for *.sns")]);
    expect(findings).toEqual(expect.arrayContaining([expect.stringMatching(/\/PrepareFunction[0-9A-F]{8}: s3:GetObject, .* needs the S3 gateway endpoint: no S3 gateway endpoint/)]));
  });

  test("Step Functions without its endpoint, and a service with no known endpoint, are reported", () => {
    const states = checkLambdaApiReachability(withGuardStatement({ Effect: 'Allow', Action: 'states:StartExecution', Resource: '*' }), without('states'));
    expect(guard(states)).toEqual([expect.stringContaining("states:StartExecution needs the 'states' interface endpoint: not in network.interfaceEndpoints")]);
    const rds = checkLambdaApiReachability(withGuardStatement({ Effect: 'Allow', Action: ['rds:DescribeDBInstances'], Resource: '*' }), dev.network);
    expect(guard(rds)).toEqual([expect.stringContaining("rds:DescribeDBInstances: no VPC endpoint is known for 'rds:' actions")]);
  });

  test('Bedrock and SageMaker calls map to their runtime or API endpoint, wildcards to both', () => {
    const needs = (action: string) =>
      checkLambdaApiReachability(withGuardStatement({ Effect: 'Allow', Action: action, Resource: '*' }), dev.network).functions.find((f) =>
        f.fn.includes('/ThroughputGuardHandlerFunction'),
      )!.needs;
    const endpointsFor = (action: string) => Object.keys(needs(action)).filter((e) => needs(action)[e].includes(action)).sort();
    expect(endpointsFor('bedrock:Converse')).toEqual(['bedrock-runtime']);
    expect(endpointsFor('bedrock:InvokeModelWithResponseStream')).toEqual(['bedrock-runtime']);
    expect(endpointsFor('bedrock:GetCustomModel')).toEqual(['bedrock']);
    expect(endpointsFor('sagemaker:InvokeEndpoint*')).toEqual(['sagemaker-runtime']);
    expect(endpointsFor('sagemaker:*')).toEqual(['sagemaker-api', 'sagemaker-runtime']);
    expect(endpointsFor('kms:Decrypt')).toEqual(['kms']);
  });

  test("the inference API's cached function describes its A/B endpoint through 'sagemaker-api', reported when that endpoint is missing", () => {
    const fixture = CONFIGS['prod serving the fixture'];
    const fixtureTemplates = templatesOf(synthesizeEnvironment(fixture).platform);
    const report = checkLambdaApiReachability(fixtureTemplates, fixture.network);
    const buffered = report.functions.filter((f) => /-api\/InferenceApiHandler/.test(f.fn));
    const stream = report.functions.filter((f) => /-api\/InferenceApiStreamHandler/.test(f.fn));
    expect([buffered.length, stream.length]).toEqual([1, 1]);
    expect(buffered[0].needs['sagemaker-api']).toEqual(['sagemaker:DescribeEndpoint']);
    expect(stream[0].needs['sagemaker-api']).toBeUndefined();
    const withoutApi = { ...fixture.network, interfaceEndpoints: fixture.network.interfaceEndpoints.filter((e) => e !== 'sagemaker-api') };
    expect(checkLambdaApiReachability(fixtureTemplates, withoutApi).findings.filter((f) => f.startsWith(`${buffered[0].fn}:`))).toEqual([
      expect.stringContaining("sagemaker:DescribeEndpoint needs the 'sagemaker-api' interface endpoint: not in network.interfaceEndpoints"),
    ]);
  });

  test('with NAT gateways the endpoints are not checked, and the report says why', () => {
    const nat = configWith(dev, (c) => {
      c.network.natGateways = 1;
      c.network.interfaceEndpoints = c.network.interfaceEndpoints.filter((e: string) => e !== 'sns');
    }).network;
    const report = checkLambdaApiReachability(templates, nat);
    expect(report.findings).toEqual([]);
    expect(report.skipped).toMatch(/natGateways is 1: .* through NAT/);
  });
});
