import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import type { ServedModel } from '../../api/served-models';
import { ApiAuthentication, MAX_BUFFERED_MODEL_SECONDS, MAX_STREAM_SECONDS } from '../../config/environment-config';
import { acknowledgeNag, iam5ResourceFinding, skipCheckov } from '../compliance';
import { JobNetworkPlacement } from '../ml-service-role';
import { PLATFORM_NODE_RUNTIME, PlatformFunction } from '../platform-function';
import { ApiOperation, apiGatewayModelSchema, apiOperations, OPENAPI_DOCUMENT, PROBLEM_TYPES, problemTypeUri } from './openapi-document';

/** What a streamed generation leaves of the function's time for the handler to send its `error` event. */
export const STREAM_GRACE_MS = 2000;

/** The stage: callers see `/v1/models/...`, the version of the OpenAPI document's paths. */
export const API_STAGE_NAME = 'v1';

/** One consumer of the API: its API key and usage plan. */
export interface ApiConsumer {
  readonly name: string;
  readonly rateLimit: number;
  readonly burstLimit: number;
  readonly quota?: { readonly limit: number; readonly period: 'DAY' | 'WEEK' | 'MONTH' };
}

export interface InferenceApiProps {
  /** Name of the REST API and prefix of its functions' descriptions, e.g. `fmft-dev-api`. */
  readonly apiName: string;
  /** The models the API serves (`GET /models`); the functions may invoke exactly these. */
  readonly servedModels: readonly ServedModel[];
  /** The bundle of lib/api/handler.ts (exports `handler` and `streamHandler`). */
  readonly code: lambda.Code;
  readonly authentication: ApiAuthentication;
  /** One API key and usage plan each; must be empty with `iam`, and not empty otherwise. */
  readonly consumers: readonly ApiConsumer[];
  /** Requests per second and burst of the stage, every caller together. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Longest wait for a model on the buffered routes (API Gateway ends them at 29 s). */
  readonly modelTimeout: Duration;
  /** Longest streamed generation (at most 15 minutes, Lambda's limit). */
  readonly streamTimeout: Duration;
  readonly reservedConcurrency: number;
  /** The web ACL blocks a client address for the rest of a 5-minute window above this many requests. */
  readonly wafRateLimitPer5Minutes: number;
  /** Where the functions run (isolated subnets: the runtimes through interface endpoints). */
  readonly placement: JobNetworkPlacement;
  /** Encrypts every log group (access, execution, WAF, functions) and the functions' environment; must admit CloudWatch Logs. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly deadLetterQueue: sqs.IQueue;
  /** CloudWatch namespace of the handler's metrics (per route and model). */
  readonly metricsNamespace: string;
  /**
   * How long a greedy answer is served from the answer cache (a DynamoDB table encrypted with `key`, whose TTL
   * deletes old answers). Functions in isolated subnets reach it through a DynamoDB gateway endpoint. The key of
   * an A/B endpoint's answers includes the endpoint config it runs now, so the buffered function may also call
   * DescribeEndpoint on those endpoints (through the `sagemaker-api` interface endpoint in isolated subnets).
   * @default no cache
   */
  readonly cacheTtl?: Duration;
  /**
   * Make the API private: reachable only through this `execute-api` interface endpoint, whose id the resource
   * policy requires of every request. @default a regional (public) endpoint
   */
  readonly privateEndpoint?: ec2.IInterfaceVpcEndpoint;
}

/** The problem each API Gateway response type becomes, and the status it is sent with. */
const GATEWAY_PROBLEMS: readonly [apigateway.ResponseType, string][] = [
  [apigateway.ResponseType.BAD_REQUEST_BODY, 'invalid-request'],
  [apigateway.ResponseType.BAD_REQUEST_PARAMETERS, 'invalid-request'],
  [apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE, 'invalid-request'],
  [apigateway.ResponseType.DEFAULT_4XX, 'invalid-request'],
  [apigateway.ResponseType.ACCESS_DENIED, 'forbidden'],
  [apigateway.ResponseType.EXPIRED_TOKEN, 'forbidden'],
  [apigateway.ResponseType.INVALID_API_KEY, 'forbidden'],
  [apigateway.ResponseType.INVALID_SIGNATURE, 'forbidden'],
  // API Gateway answers a path it does not have with this type too, before it knows who calls.
  [apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, 'forbidden'],
  [apigateway.ResponseType.UNAUTHORIZED, 'forbidden'],
  [apigateway.ResponseType.WAF_FILTERED, 'forbidden'],
  [apigateway.ResponseType.RESOURCE_NOT_FOUND, 'not-found'],
  [apigateway.ResponseType.REQUEST_TOO_LARGE, 'payload-too-large'],
  [apigateway.ResponseType.THROTTLED, 'throttled'],
  [apigateway.ResponseType.QUOTA_EXCEEDED, 'quota-exceeded'],
  [apigateway.ResponseType.INTEGRATION_TIMEOUT, 'model-timeout'],
  [apigateway.ResponseType.INTEGRATION_FAILURE, 'unavailable'],
  [apigateway.ResponseType.DEFAULT_5XX, 'internal'],
];

/**
 * The body template of a gateway response: the problem document of `code`. Gateway response templates are
 * not VTL, only `$context` substitution ("x-amazon-apigateway-gateway-responses.responseTemplates object",
 * API Gateway developer guide): `$context.error.messageString` is already a quoted JSON string.
 */
export function gatewayProblemTemplate(code: string): string {
  const p = PROBLEM_TYPES[code];
  const fields = [
    `"type":${JSON.stringify(problemTypeUri(code))}`,
    `"title":${JSON.stringify(p.title)}`,
    `"status":${p.status}`,
    '"detail":$context.error.messageString',
    '"instance":"$context.requestId"',
    `"retryable":${p.retryable}`,
    ...(p.retryAfterSeconds !== undefined ? [`"retryAfterSeconds":${p.retryAfterSeconds}`] : []),
  ];
  return `{${fields.join(',')}}`;
}

/**
 * The access log line, JSON: who called which route with which key, the status, the latencies and why API
 * Gateway refused (its response type). Numbers are unquoted so that metric filters can compare and sum them.
 * Never the body, the key's value or the Authorization header.
 */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  requestTime: '$context.requestTimeEpoch',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.caller',
  apiKeyId: '$context.identity.apiKeyId',
  method: '$context.httpMethod',
  route: '$context.resourcePath',
  status: '$context.status',
  latencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integration.latency',
  responseType: '$context.error.responseType',
  wafStatus: '$context.waf.status',
  xrayTraceId: '$context.xrayTraceId',
}).replace(/"(\$context\.(status|responseLatency|requestTimeEpoch))"/g, '$1');

/**
 * The inference API: an API Gateway REST API whose routes, models and problem documents come from
 * api/openapi.json and api/problems.json, two functions from one bundle (buffered routes, and the streaming
 * route through Lambda response streaming), API keys with a usage plan per consumer and/or IAM, a regional web
 * ACL (AWS managed rules and a per-address rate limit), KMS-encrypted access, execution and WAF logs, X-Ray.
 *
 * Request bodies are checked by the handler against the same schemas, not by API Gateway: a gateway response
 * can only substitute `$context` variables, and its validation message is neither JSON-escaped nor structured,
 * so API Gateway could not name the field in a problem document. API Gateway validates the parameters, and
 * the models stay on each method (and in the API's export) as the document's schemas.
 */
export class InferenceApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly stage: apigateway.Stage;
  readonly accessLogs: logs.LogGroup;
  readonly webAcl: wafv2.CfnWebACL;
  /** Serves every route but the streaming one. */
  readonly handler: PlatformFunction;
  /** Serves `generate-stream`. */
  readonly streamHandler: PlatformFunction;
  /** Each consumer's API key, by consumer name. */
  readonly apiKeys: Readonly<Record<string, apigateway.IApiKey>>;
  readonly usagePlans: Readonly<Record<string, apigateway.UsagePlan>>;
  readonly operations: readonly ApiOperation[];
  /** The answer cache, when `cacheTtl` is set. */
  readonly cacheTable?: dynamodb.Table;
  /** CloudWatch namespace of the handler's metrics. */
  readonly metricsNamespace: string;

  constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    validate(props);
    const stack = Stack.of(this);
    const usesKeys = props.authentication !== 'iam';
    const usesIam = props.authentication !== 'api-key';
    this.metricsNamespace = props.metricsNamespace;

    // ---- the functions
    if (props.cacheTtl) this.cacheTable = this.addCacheTable(props.key);
    const environment = {
      SERVED_MODELS: JSON.stringify(props.servedModels),
      METRICS_NAMESPACE: props.metricsNamespace,
      MODEL_TIMEOUT_MS: String(props.modelTimeout.toMilliseconds()),
    };
    // Only the buffered routes use the cache: a stream is never cached.
    const cacheEnvironment: Record<string, string> =
      this.cacheTable && props.cacheTtl ? { CACHE_TABLE: this.cacheTable.tableName, CACHE_TTL_SECONDS: String(props.cacheTtl.toSeconds()) } : {};
    // The handler ends a stream with an `error` event when the model runs out of time: that must happen
    // before Lambda ends the function, or the caller gets a cut stream without the event.
    const streamModelMs = props.streamTimeout.toMilliseconds() - STREAM_GRACE_MS;
    const common = {
      code: props.code,
      runtime: PLATFORM_NODE_RUNTIME,
      placement: props.placement,
      key: props.key,
      logRetention: props.logRetention,
      deadLetterQueue: props.deadLetterQueue,
      reservedConcurrency: props.reservedConcurrency,
    };
    this.handler = new PlatformFunction(this, 'Handler', {
      ...common,
      handler: 'index.handler',
      description: `${props.apiName}: the inference API's buffered routes`,
      // Two seconds beyond the model's wait (API Gateway waits one): the handler answers model-timeout before
      // Lambda or API Gateway ends the request.
      timeout: props.modelTimeout.plus(Duration.seconds(2)),
      environment: { ...environment, ...cacheEnvironment },
    });
    this.streamHandler = new PlatformFunction(this, 'StreamHandler', {
      ...common,
      handler: 'index.streamHandler',
      description: `${props.apiName}: the inference API's streaming route`,
      timeout: props.streamTimeout,
      environment: { ...environment, MODEL_TIMEOUT_MS: String(streamModelMs) },
    });
    for (const fn of [this.handler, this.streamHandler]) grantModels(stack, fn, props.servedModels);
    // Read and write items, nothing else.
    this.cacheTable?.grant(this.handler.role.grantPrincipal, 'dynamodb:GetItem', 'dynamodb:PutItem');
    if (this.cacheTable) grantEndpointLookups(stack, this.handler, props.servedModels);

    // ---- logs
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { encryptionKey: props.key, retention: props.logRetention });

    // ---- the API
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: props.apiName,
      description: `${OPENAPI_DOCUMENT.info.title} ${OPENAPI_DOCUMENT.info.version} (api/openapi.json)`,
      endpointConfiguration: props.privateEndpoint
        ? { types: [apigateway.EndpointType.PRIVATE], vpcEndpoints: [props.privateEndpoint] }
        : { types: [apigateway.EndpointType.REGIONAL] },
      policy: props.privateEndpoint ? privateApiPolicy(props.privateEndpoint) : undefined,
      cloudWatchRole: false,
      apiKeySourceType: usesKeys ? apigateway.ApiKeySourceType.HEADER : undefined,
      deployOptions: {
        stageName: API_STAGE_NAME,
        tracingEnabled: true,
        // Errors only, and never the data: request and response bodies hold prompts and answers.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
      defaultMethodOptions: {
        authorizationType: usesIam ? apigateway.AuthorizationType.IAM : apigateway.AuthorizationType.NONE,
        apiKeyRequired: usesKeys,
      },
    });
    this.stage = this.api.deploymentStage;
    const stageAcks: [string, string][] = [
      [
        'APIGWCacheEnabledAndEncrypted',
        "API Gateway's cache keys are request parameters and headers, never the body, and every model route is a POST whose meaning is its body: a stage cache would answer different prompts alike",
      ],
      [
        'APIGWSSLEnabled',
        'Every integration is a Lambda proxy (AWS_PROXY), which API Gateway calls through the Lambda API over TLS with SigV4; client certificates authenticate API Gateway to HTTP backends only',
      ],
    ];
    for (const pack of ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']) {
      for (const [rule, reason] of stageAcks) acknowledgeNag(this.stage, { id: `${pack}::${pack}-${rule}`, reason });
    }
    skipCheckov(this.stage, { id: 'CKV_AWS_120', comment: stageAcks[0][1] });
    acknowledgeNag(this.stage, {
      id: 'Serverless::Serverless-APIGWStructuredLogging',
      reason: 'The access log format is a JSON object once API Gateway substitutes it: status and latency are left unquoted, as numbers, so the usage metric filters can compare them; cdk-nag parses the unsubstituted text',
    });
    this.addLoggingAccount(props);

    // ---- models from the document, and the routes
    const models = new Map<string, apigateway.Model>();
    const modelUrl = (name: string) => `https://apigateway.amazonaws.com/restapis/${this.api.restApiId}/models/${name}`;
    const model = (name: string): apigateway.Model => {
      const existing = models.get(name);
      if (existing) return existing;
      const schema = apiGatewayModelSchema(name, modelUrl);
      const created = new apigateway.Model(this, `Model${name}`, {
        restApi: this.api,
        modelName: name,
        contentType: 'application/json',
        description: `${name} of api/openapi.json`,
        // The document's JSON Schema as it is; `ref`/`schema` are how CDK spells $ref/$schema.
        schema: toCdkSchema(schema),
      });
      models.set(name, created);
      // A model must exist before another model that refers to it.
      for (const ref of referencedModels(schema)) if (ref !== name) created.node.addDependency(model(ref));
      return created;
    };
    for (const name of Object.keys(OPENAPI_DOCUMENT.components.schemas)) model(name);

    const validator = this.api.addRequestValidator('ParameterValidator', {
      requestValidatorName: 'parameters',
      validateRequestParameters: true,
      validateRequestBody: false,
    });
    const buffered = new apigateway.LambdaIntegration(this.handler.fn, {
      proxy: true,
      timeout: props.modelTimeout.plus(Duration.seconds(1)),
      allowTestInvoke: false,
    });
    const streamed = new apigateway.LambdaIntegration(this.streamHandler.fn, {
      proxy: true,
      responseTransferMode: apigateway.ResponseTransferMode.STREAM,
      timeout: props.streamTimeout,
      allowTestInvoke: false,
    });
    this.operations = apiOperations();
    for (const op of this.operations) {
      const resource = this.api.root.resourceForPath(op.path);
      const method = resource.addMethod(op.method, op.streaming ? streamed : buffered, {
        operationName: op.operationId,
        requestValidator: validator,
        requestParameters: Object.fromEntries(op.pathParameters.map((p) => [`method.request.path.${p}`, true])),
        requestModels: op.requestSchema ? { 'application/json': model(op.requestSchema) } : undefined,
      });
      acknowledgeNag(method, {
        id: 'AwsSolutions::AwsSolutions-COG4',
        reason: 'Callers are applications, not people: they authenticate with IAM SigV4 and/or a usage plan\'s API key (api.authentication); there is no user pool',
      });
      if (!usesIam) {
        acknowledgeNag(method, {
          id: 'AwsSolutions::AwsSolutions-APIG4',
          reason: "api.authentication 'api-key': every method requires a consumer's API key (apiKeyRequired), metered and throttled by its usage plan; 'iam-and-api-key' adds SigV4",
        });
      }
    }
    acknowledgeNag(this.api, {
      id: 'AwsSolutions::AwsSolutions-APIG2',
      reason:
        'API Gateway validates the parameters; the handler validates each body against the same schemas of api/openapi.json and answers a problem document naming every field, which a gateway response cannot (its validation message is neither structured nor JSON-escaped)',
    });

    // ---- every refusal of API Gateway itself is a problem document too
    for (const [type, code] of GATEWAY_PROBLEMS) {
      const p = PROBLEM_TYPES[code];
      this.api.addGatewayResponse(`Problem${type.responseType}`, {
        type,
        statusCode: String(p.status),
        responseHeaders: {
          'Content-Type': "'application/problem+json'",
          ...(p.retryAfterSeconds !== undefined ? { 'Retry-After': `'${p.retryAfterSeconds}'` } : {}),
        },
        templates: { 'application/json': gatewayProblemTemplate(code) },
      });
    }

    // ---- consumers
    const keys: Record<string, apigateway.IApiKey> = {};
    const plans: Record<string, apigateway.UsagePlan> = {};
    for (const c of props.consumers) {
      const plan = this.api.addUsagePlan(`Plan-${c.name}`, {
        name: `${props.apiName}-${c.name}`,
        description: `Usage plan of ${c.name}`,
        throttle: { rateLimit: c.rateLimit, burstLimit: c.burstLimit },
        quota: c.quota ? { limit: c.quota.limit, period: apigateway.Period[c.quota.period] } : undefined,
        apiStages: [{ api: this.api, stage: this.stage }],
      });
      const key = this.api.addApiKey(`Key-${c.name}`, { apiKeyName: `${props.apiName}-${c.name}`, description: `API key of ${c.name}` });
      plan.addApiKey(key);
      keys[c.name] = key;
      plans[c.name] = plan;
    }
    this.apiKeys = keys;
    this.usagePlans = plans;

    this.webAcl = this.addWebAcl(props);
  }

  /**
   * API Gateway writes access and execution logs with one role per account and region (its account settings).
   * This sets it, with only the log actions API Gateway uses; the role is kept when the stack goes, because
   * the setting outlives the stack and other APIs of the account log through it.
   */
  private addLoggingAccount(props: InferenceApiProps): void {
    const role = new iam.Role(this, 'LoggingRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway account setting: writes the access and execution logs of the REST APIs of this region',
    });
    const logGroups = Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const policy = new iam.ManagedPolicy(this, 'LoggingPolicy', {
      description: 'The log actions API Gateway uses for access and execution logs (as AWS\'s AmazonAPIGatewayPushToCloudWatchLogs), in this region and account only',
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogGroups', 'logs:DescribeLogStreams', 'logs:PutLogEvents', 'logs:GetLogEvents', 'logs:FilterLogEvents'],
          resources: [logGroups],
        }),
      ],
    });
    acknowledgeNag(policy, {
      id: iam5ResourceFinding(policy, logGroups),
      reason: 'The account setting serves every REST API of the region, whose execution log groups API Gateway names itself (API-Gateway-Execution-Logs_<api>/<stage>); scoped to this account and region',
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    policy.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const account = new apigateway.CfnAccount(this, 'LoggingAccount', { cloudWatchRoleArn: role.roleArn });
    // The stage's logging settings are refused until the account has its role.
    this.stage.node.addDependency(account);
    // API Gateway names the execution log group itself; made here first, it is encrypted and expires.
    const executionLogs = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${API_STAGE_NAME}`,
      encryptionKey: props.key,
      retention: props.logRetention,
    });
    this.stage.node.addDependency(executionLogs);
  }

  private addCacheTable(key: kms.IKey): dynamodb.Table {
    const table = new dynamodb.Table(this, 'AnswerCache', {
      partitionKey: { name: 'key', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Cached answers are rebuilt by the next requests; nothing in the table is worth keeping.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    for (const pack of ['HIPAA.Security', 'NIST.800.53.R5']) {
      acknowledgeNag(table, {
        id: `${pack}::${pack}-DynamoDBInBackupPlan`,
        reason: 'A cache of model answers that expire within a week (api.cache.ttlSeconds) and that the next requests rebuild; point-in-time recovery is on, a backup plan would keep nothing of value',
      });
    }
    return table;
  }

  private addWebAcl(props: InferenceApiProps): wafv2.CfnWebACL {
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName });
    const managed = (priority: number, name: string, overrides: string[] = []) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ruleActionOverrides: overrides.length ? overrides.map((rule) => ({ name: rule, actionToUse: { count: {} } })) : undefined,
        },
      },
      visibilityConfig: visibility(name),
    });
    const acl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: props.apiName,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      description: `Web ACL of ${props.apiName}`,
      visibilityConfig: visibility(props.apiName),
      rules: [
        {
          name: 'RateLimitPerAddress',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.wafRateLimitPer5Minutes, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerAddress'),
        },
        managed(1, 'AWSManagedRulesAmazonIpReputationList'),
        // Prompts are often longer than the 8 KB body limit of the common rule set: that rule only counts.
        managed(2, 'AWSManagedRulesCommonRuleSet', ['SizeRestrictions_BODY']),
        managed(3, 'AWSManagedRulesKnownBadInputsRuleSet'),
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.stage.stageArn, webAclArn: acl.attrArn });
    // WAF requires its log group's name to start with aws-waf-logs-.
    const wafLogs = new logs.LogGroup(this, 'WafLogs', {
      logGroupName: `aws-waf-logs-${props.apiName}`,
      encryptionKey: props.key,
      retention: props.logRetention,
    });
    new wafv2.CfnLoggingConfiguration(this, 'WafLogging', {
      resourceArn: acl.attrArn,
      logDestinationConfigs: [wafLogs.logGroupArn],
      // Credentials never reach the logs.
      redactedFields: [{ singleHeader: { Name: 'x-api-key' } }, { singleHeader: { Name: 'authorization' } }],
    });
    return acl;
  }
}

/**
 * A private API's resource policy: requests through the one VPC endpoint are let through to the method's own
 * authorization (API key, SigV4), every other request is denied ("Create a private API", API Gateway developer
 * guide: a private API needs a resource policy naming its endpoints).
 */
function privateApiPolicy(endpoint: ec2.IInterfaceVpcEndpoint): iam.PolicyDocument {
  const everyMethod = 'execute-api:/*';
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: [everyMethod],
        conditions: { StringNotEquals: { 'aws:SourceVpce': endpoint.vpcEndpointId } },
      }),
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: [everyMethod],
        conditions: { StringEquals: { 'aws:SourceVpce': endpoint.vpcEndpointId } },
      }),
    ],
  });
}

function validate(props: InferenceApiProps): void {
  const problems: string[] = [];
  const usesKeys = props.authentication !== 'iam';
  if (usesKeys && props.consumers.length === 0) problems.push(`consumers: got none; authentication '${props.authentication}' needs at least one (each gets an API key)`);
  if (!usesKeys && props.consumers.length > 0) problems.push("consumers: authentication 'iam' has no API keys; list none");
  const modelSeconds = props.modelTimeout.toSeconds();
  if (!Token.isUnresolved(modelSeconds) && (modelSeconds < 1 || modelSeconds > MAX_BUFFERED_MODEL_SECONDS)) {
    problems.push(`modelTimeout: got ${modelSeconds} s; allowed: 1 to ${MAX_BUFFERED_MODEL_SECONDS} s (API Gateway ends buffered integrations at 29 s)`);
  }
  const streamSeconds = props.streamTimeout.toSeconds();
  if (!Token.isUnresolved(streamSeconds) && (streamSeconds < 3 || streamSeconds > MAX_STREAM_SECONDS)) {
    problems.push(`streamTimeout: got ${streamSeconds} s; allowed: 3 to ${MAX_STREAM_SECONDS} s (Lambda's limit, and ${STREAM_GRACE_MS / 1000} s for the handler to end the stream)`);
  }
  const ids = props.servedModels.map((m) => m.id);
  const duplicates = ids.filter((m, i) => ids.indexOf(m) !== i);
  if (duplicates.length) problems.push(`servedModels: ids ${[...new Set(duplicates)].join(', ')} appear more than once; model ids must be unique`);
  const ttl = props.cacheTtl?.toSeconds();
  if (ttl !== undefined && !Token.isUnresolved(ttl) && (ttl < 60 || ttl > 604800)) problems.push(`cacheTtl: got ${ttl} s; allowed: 60 s to a week`);
  if (props.wafRateLimitPer5Minutes < 10 || !Number.isInteger(props.wafRateLimitPer5Minutes)) {
    problems.push(`wafRateLimitPer5Minutes: got ${props.wafRateLimitPer5Minutes}; allowed: a whole number >= 10 (WAF's rate-based rule minimum)`);
  }
  if (problems.length) throw new Error(`Invalid InferenceApi props:\n- ${problems.join('\n- ')}`);
}

/** Each function may invoke the served models and nothing else. */
function grantModels(stack: Stack, fn: PlatformFunction, served: readonly ServedModel[]): void {
  const sagemaker = served.flatMap((m) => {
    if (m.backend === 'bedrock' || !m.endpointName) return [];
    const endpoint = stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: m.endpointName });
    return m.inferenceComponentName
      ? [endpoint, stack.formatArn({ service: 'sagemaker', resource: 'inference-component', resourceName: m.inferenceComponentName })]
      : [endpoint];
  });
  const bedrock = served.filter((m) => m.backend === 'bedrock' && m.modelArn).map((m) => m.modelArn!);
  const add = (actions: string[], resources: string[]) =>
    fn.role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [...new Set(resources)] }));
  // InvokeEndpointWithResponseStream is authorized by sagemaker:InvokeEndpoint (SageMaker runtime API reference).
  if (sagemaker.length) add(['sagemaker:InvokeEndpoint'], sagemaker);
  // Converse and ConverseStream are authorized by these two (Bedrock runtime API reference).
  if (bedrock.length) add(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], bedrock);
}

/**
 * The function with the answer cache may describe the A/B endpoints it serves and nothing else: the cache key
 * includes the endpoint config each runs now (lib/api/endpoint-config.ts), which a promotion or rollback
 * changes without a deployment of this stack.
 */
function grantEndpointLookups(stack: Stack, fn: PlatformFunction, served: readonly ServedModel[]): void {
  const endpoints = served
    .filter((m) => m.backend === 'sagemaker-endpoint' && m.endpointName)
    .map((m) => stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: m.endpointName }));
  if (endpoints.length) fn.role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeEndpoint'], resources: [...new Set(endpoints)] }));
}

type CdkSchema = apigateway.JsonSchema;

/** CDK's JsonSchema spells `$ref` and `$schema` as `ref` and `schema`; it writes them back as they were. */
function toCdkSchema(value: unknown): CdkSchema {
  const convert = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(convert);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, child]) => {
        if (k === '$ref') return ['ref', child];
        if (k === '$schema') return ['schema', child];
        // Property names are the document's, not keywords.
        if (k === 'properties') return [k, Object.fromEntries(Object.entries(child as Record<string, unknown>).map(([p, s]) => [p, convert(s)]))];
        return [k, convert(child)];
      }),
    );
  };
  return convert(value) as CdkSchema;
}

function referencedModels(schema: unknown): string[] {
  const found: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        if (k === '$ref' && typeof child === 'string') found.push(child.split('/').pop()!);
        else walk(child);
      }
    }
  };
  walk(schema);
  return found;
}
