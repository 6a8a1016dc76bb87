import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EnvironmentConfig } from '../../lib/config/environment-config';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { validateEnvironmentConfig } from '../../lib/config/validate';
import { API_STAGE_NAME } from '../../lib/constructs/api/inference-api';
import { apiGatewayModelSchema, apiOperations, OPENAPI_DOCUMENT, PROBLEM_TYPES } from '../../lib/constructs/api/openapi-document';
import { servedModels } from '../../lib/stacks/api-stack';
import { configWith, normalizedTemplate, synthesizeEnvironment, unacknowledgedFindings } from '../support/app';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const BEDROCK_ARN = 'arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abcdefgh1234';
/** prod serving the fixture's A/B variants and inference components, and one Bedrock model. */
const servingConfig: EnvironmentConfig = configWith(loadEnvironmentConfig('prod', FIXTURE), (c) => {
  c.serving.bedrockModels = [{ name: 'claims-nova', modelArn: BEDROCK_ARN }];
});
const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const serving = synthesizeEnvironment(servingConfig);
const devApi = Template.fromStack(dev.platform.api!);
const prodApi = Template.fromStack(serving.platform.api!);
const resources = (t: Template, type: string) => Object.entries(t.findResources(type)) as [string, any][];

/** The template's value with every `Ref` to the REST API written as `<api>` and its joins flattened. */
function flatten(value: any, apiLogicalId: string): any {
  if (Array.isArray(value)) return value.map((v) => flatten(v, apiLogicalId));
  if (value && typeof value === 'object') {
    if (value.Ref === apiLogicalId) return '<api>';
    if (value['Fn::Join']) return value['Fn::Join'][1].map((v: any) => flatten(v, apiLogicalId)).join(value['Fn::Join'][0]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, flatten(v, apiLogicalId)]));
  }
  return value;
}

/** Every method of the REST API as `METHOD /path`, from the resources' path parts. */
function methods(t: Template): Map<string, any> {
  const parts = new Map<string, { part: string; parent: any }>(
    resources(t, 'AWS::ApiGateway::Resource').map(([id, r]) => [id, { part: r.Properties.PathPart, parent: r.Properties.ParentId }]),
  );
  const pathOf = (ref: any): string => {
    const id = ref?.Ref;
    const p = id ? parts.get(id) : undefined;
    return p ? `${pathOf(p.parent)}/${p.part}` : '';
  };
  return new Map(resources(t, 'AWS::ApiGateway::Method').map(([, m]) => [`${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId)}`, m.Properties]));
}

describe('api stack', () => {
  test('exists in every environment with `api`, after the endpoints it calls', () => {
    expect(dev.raw['fmft-dev-api']).toBeDefined();
    expect(serving.platform.api!.dependencies).toContain(serving.platform.endpoints);
    expect(synthesizeEnvironment(configWith(ENVIRONMENTS.dev, (c) => delete c.api)).platform.api).toBeUndefined();
  });

  test("the deployed models are the document's schemas, one per component schema, with references as model URLs", () => {
    const apiId = Object.keys(prodApi.findResources('AWS::ApiGateway::RestApi'))[0];
    const models = resources(prodApi, 'AWS::ApiGateway::Model');
    expect(models.map(([, m]) => m.Properties.Name).sort()).toEqual(Object.keys(OPENAPI_DOCUMENT.components.schemas).sort());
    for (const [, m] of models) {
      const expected = apiGatewayModelSchema(m.Properties.Name, (name) => `https://apigateway.amazonaws.com/restapis/<api>/models/${name}`);
      expect({ name: m.Properties.Name, schema: flatten(m.Properties.Schema, apiId) }).toEqual({ name: m.Properties.Name, schema: expected });
      expect(m.Properties.ContentType).toBe('application/json');
    }
  });

  test("the deployed models, references inlined, say exactly what the document's schemas say", () => {
    const apiId = Object.keys(prodApi.findResources('AWS::ApiGateway::RestApi'))[0];
    const byName = new Map(resources(prodApi, 'AWS::ApiGateway::Model').map(([, m]) => [m.Properties.Name, flatten(m.Properties.Schema, apiId)]));
    const inline = (schema: any, refOf: (ref: string) => any): any => {
      if (Array.isArray(schema)) return schema.map((s) => inline(s, refOf));
      if (schema && typeof schema === 'object') {
        if (typeof schema.$ref === 'string') return inline(refOf(schema.$ref), refOf);
        const { $schema: _s, title: _t, ...rest } = schema;
        return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, inline(v, refOf)]));
      }
      return schema;
    };
    for (const name of Object.keys(OPENAPI_DOCUMENT.components.schemas)) {
      const deployed = inline(byName.get(name), (ref) => byName.get(ref.split('/').pop()));
      const documented = inline(OPENAPI_DOCUMENT.components.schemas[name], (ref) => OPENAPI_DOCUMENT.components.schemas[ref.split('/').pop()!]);
      expect({ name, deployed }).toEqual({ name, deployed: documented });
    }
  });

  test('exactly the operations of the document, each a Lambda proxy; generate-stream streams through its own function', () => {
    const found = methods(prodApi);
    const expected = apiOperations().map((o) => `${o.method} ${o.path}`);
    expect([...found.keys()].sort()).toEqual(expected.sort());
    const functions = resources(prodApi, 'AWS::Lambda::Function').map(([id, f]) => [id, f.Properties.Handler]);
    const streamFn = functions.find(([, h]) => h === 'index.streamHandler')![0];
    const bufferedFn = functions.find(([, h]) => h === 'index.handler')![0];
    for (const op of apiOperations()) {
      const m = found.get(`${op.method} ${op.path}`);
      const uri = JSON.stringify(m.Integration.Uri);
      expect({ op: op.operationId, type: m.Integration.Type, mode: m.Integration.ResponseTransferMode ?? 'BUFFERED' }).toEqual({
        op: op.operationId,
        type: 'AWS_PROXY',
        mode: op.streaming ? 'STREAM' : 'BUFFERED',
      });
      expect(uri).toContain(op.streaming ? streamFn : bufferedFn);
      if (op.streaming) expect(uri).toContain('/response-streaming-invocations');
      expect(m.OperationName).toBe(op.operationId);
      if (op.requestSchema) expect(m.RequestModels).toEqual({ 'application/json': { Ref: expect.stringMatching(new RegExp(`^InferenceApiModel${op.requestSchema}`)) } });
      for (const p of op.pathParameters) expect(m.RequestParameters).toEqual({ [`method.request.path.${p}`]: true });
    }
  });

  test('buffered routes wait for the model a second past its timeout, within API Gateway\'s 29 s', () => {
    for (const [tpl, config] of [[devApi, ENVIRONMENTS.dev], [prodApi, servingConfig]] as const) {
      const buffered = [...methods(tpl).values()].filter((m) => m.Integration.ResponseTransferMode !== 'STREAM');
      for (const m of buffered) expect(m.Integration.TimeoutInMillis).toBe((config.api!.modelTimeoutSeconds + 1) * 1000);
      expect((config.api!.modelTimeoutSeconds + 1) * 1000).toBeLessThanOrEqual(29000);
    }
  });

  test('dev: every route needs an API key; prod: a SigV4 signature and an API key', () => {
    for (const m of methods(devApi).values()) expect([m.AuthorizationType, m.ApiKeyRequired]).toEqual(['NONE', true]);
    for (const m of methods(prodApi).values()) expect([m.AuthorizationType, m.ApiKeyRequired]).toEqual(['AWS_IAM', true]);
  });

  test('one usage plan and API key per consumer, with its rate, burst and quota, on the stage', () => {
    for (const [tpl, config] of [[devApi, ENVIRONMENTS.dev], [prodApi, servingConfig]] as const) {
      const plans = resources(tpl, 'AWS::ApiGateway::UsagePlan').map(([, p]) => p.Properties);
      expect(plans.map((p) => p.UsagePlanName).sort()).toEqual(config.api!.consumers.map((c) => `fmft-${config.name}-api-${c.name}`).sort());
      for (const c of config.api!.consumers) {
        const plan = plans.find((p) => p.UsagePlanName === `fmft-${config.name}-api-${c.name}`);
        expect(plan.Throttle).toEqual({ RateLimit: c.rateLimit, BurstLimit: c.burstLimit });
        expect(plan.Quota).toEqual(c.quota ? { Limit: c.quota.limit, Period: c.quota.period } : undefined);
        expect(plan.ApiStages).toEqual([expect.objectContaining({ ApiId: expect.anything(), Stage: expect.anything() })]);
      }
      expect(resources(tpl, 'AWS::ApiGateway::ApiKey')).toHaveLength(config.api!.consumers.length);
      expect(resources(tpl, 'AWS::ApiGateway::UsagePlanKey')).toHaveLength(config.api!.consumers.length);
    }
  });

  test('the stage: v1, X-Ray, error logs without bodies, access logs in JSON to a KMS log group, the stage throttle', () => {
    const stage = resources(devApi, 'AWS::ApiGateway::Stage')[0][1].Properties;
    expect(stage).toMatchObject({
      StageName: API_STAGE_NAME,
      TracingEnabled: true,
      MethodSettings: [
        {
          DataTraceEnabled: false,
          LoggingLevel: 'ERROR',
          MetricsEnabled: true,
          ThrottlingRateLimit: ENVIRONMENTS.dev.api!.throttle.rateLimit,
          ThrottlingBurstLimit: ENVIRONMENTS.dev.api!.throttle.burstLimit,
          HttpMethod: '*',
          ResourcePath: '/*',
        },
      ],
    });
    const format = JSON.parse(stage.AccessLogSetting.Format.replace(/\$context\.[a-zA-Z.]+/g, (v: string) => (/status|responseLatency|requestTimeEpoch/.test(v) ? '0' : '"x"')).replace(/""x""/g, '"x"'));
    expect(Object.keys(format)).toEqual(expect.arrayContaining(['apiKeyId', 'route', 'status', 'latencyMs', 'responseType']));
    expect(stage.AccessLogSetting.Format).not.toMatch(/requestBody|authorization|apiKey"\s*:\s*"\$context\.identity\.apiKey"/i);
    for (const [id, g] of resources(devApi, 'AWS::Logs::LogGroup')) {
      expect({ id, key: g.Properties.KmsKeyId !== undefined, retention: g.Properties.RetentionInDays }).toEqual({ id, key: true, retention: expect.any(Number) });
    }
  });

  test("API Gateway's own refusals are problem documents with the problem's status, and 429s carry Retry-After", () => {
    const responses = resources(devApi, 'AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties);
    const types = responses.map((r) => r.ResponseType);
    expect(types).toEqual(expect.arrayContaining(['THROTTLED', 'QUOTA_EXCEEDED', 'BAD_REQUEST_BODY', 'INVALID_API_KEY', 'DEFAULT_4XX', 'DEFAULT_5XX', 'INTEGRATION_TIMEOUT', 'WAF_FILTERED']));
    for (const r of responses) {
      const problem = JSON.parse(r.ResponseTemplates['application/json'].replace('$context.error.messageString', '"m"'));
      expect({ type: r.ResponseType, status: r.StatusCode }).toEqual({ type: r.ResponseType, status: String(problem.status) });
      expect(r.ResponseParameters['gatewayresponse.header.Content-Type']).toBe("'application/problem+json'");
      const code = problem.type.replace('urn:fmft:problem:', '');
      const retryAfter = PROBLEM_TYPES[code].retryAfterSeconds;
      expect(r.ResponseParameters['gatewayresponse.header.Retry-After']).toBe(retryAfter === undefined ? undefined : `'${retryAfter}'`);
    }
    const throttled = responses.find((r) => r.ResponseType === 'THROTTLED');
    expect(throttled.StatusCode).toBe('429');
    expect(throttled.ResponseParameters['gatewayresponse.header.Retry-After']).toBe("'1'");
  });

  test('a regional web ACL on the stage: per-address rate limit, AWS managed rules, credentials redacted from its logs', () => {
    const acl = resources(devApi, 'AWS::WAFv2::WebACL')[0][1].Properties;
    expect(acl.Scope).toBe('REGIONAL');
    expect(acl.Rules[0].Statement.RateBasedStatement).toEqual({ Limit: ENVIRONMENTS.dev.api!.wafRateLimitPer5Minutes, AggregateKeyType: 'IP', EvaluationWindowSec: 300 });
    expect(acl.Rules.map((r: any) => r.Statement.ManagedRuleGroupStatement?.Name).filter(Boolean)).toEqual([
      'AWSManagedRulesAmazonIpReputationList',
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
    ]);
    // Prompts beyond 8 KB are normal: that one rule only counts.
    const common = acl.Rules.find((r: any) => r.Name === 'AWSManagedRulesCommonRuleSet');
    expect(common.Statement.ManagedRuleGroupStatement.RuleActionOverrides).toEqual([{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }]);
    devApi.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { ResourceArn: Match.anyValue(), WebACLArn: Match.anyValue() });
    devApi.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [{ SingleHeader: { Name: 'x-api-key' } }, { SingleHeader: { Name: 'authorization' } }],
    });
    devApi.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: 'aws-waf-logs-fmft-dev-api' });
  });

  test('the functions may invoke the served models and nothing else', () => {
    const statements = resources(prodApi, 'AWS::IAM::ManagedPolicy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const invoke = statements.filter((s: any) => [s.Action].flat().some((a: string) => /^(sagemaker:Invoke|bedrock:Invoke)/.test(a)));
    const arn = (resource: string) => ({ 'Fn::Join': ['', ['arn:aws:sagemaker:us-east-1:', { Ref: 'AWS::AccountId' }, `:${resource}`]] });
    const sagemaker = invoke.filter((s: any) => s.Action === 'sagemaker:InvokeEndpoint');
    expect(sagemaker).toHaveLength(2);
    for (const s of sagemaker) {
      expect(s.Resource).toEqual(
        expect.arrayContaining([
          arn('endpoint/fmft-prod-llm'),
          arn('endpoint/fmft-prod-llm-shared'),
          arn('inference-component/fmft-prod-llm-shared-support-assistant'),
          arn('inference-component/fmft-prod-llm-shared-claims-summarizer'),
        ]),
      );
      expect(s.Resource).toHaveLength(4);
    }
    const bedrock = invoke.filter((s: any) => String(s.Action).includes('bedrock'));
    expect(bedrock.map((s: any) => [s.Action, s.Resource])).toEqual([
      [['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], BEDROCK_ARN],
      [['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], BEDROCK_ARN],
    ]);
    // dev serves nothing yet: no invoke permission at all.
    const devStatements = resources(devApi, 'AWS::IAM::ManagedPolicy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(JSON.stringify(devStatements)).not.toMatch(/sagemaker:Invoke|bedrock:Invoke/);
  });

  test('the handler gets the served models of the config, which GET /models lists', () => {
    expect(servedModels(servingConfig)).toEqual([
      { id: 'serving', backend: 'sagemaker-endpoint', endpointName: 'fmft-prod-llm', versions: servingConfig.serving.variants.map((v) => v.modelPackageArn), streaming: true, container: 'lmi' },
      expect.objectContaining({ id: 'support-assistant', backend: 'sagemaker-inference-component', endpointName: 'fmft-prod-llm-shared', inferenceComponentName: 'fmft-prod-llm-shared-support-assistant' }),
      expect.objectContaining({ id: 'claims-summarizer', inferenceComponentName: 'fmft-prod-llm-shared-claims-summarizer' }),
      { id: 'claims-nova', backend: 'bedrock', modelArn: BEDROCK_ARN, versions: [BEDROCK_ARN], streaming: true },
    ]);
    const fn = resources(prodApi, 'AWS::Lambda::Function').find(([, f]) => f.Properties.Handler === 'index.handler')![1];
    expect(JSON.parse(fn.Properties.Environment.Variables.SERVED_MODELS)).toEqual(servedModels(servingConfig));
  });

  test('usage dashboard per route and per API key, and alarms on the 5xx share and p99 latency to the alerts topic', () => {
    const body = JSON.stringify(resources(devApi, 'AWS::CloudWatch::Dashboard')[0][1].Properties.DashboardBody);
    for (const title of ['Calls per route', 'Latency p99 per route (ms)', 'Calls per API key', 'Throttles (429) per API key', '5xx per API key', 'Latency p99 per API key (ms)']) {
      expect(body).toContain(title);
    }
    for (const c of ENVIRONMENTS.dev.api!.consumers) expect(body).toContain(`\\"label\\":\\"${c.name}\\"`);
    const filters = resources(devApi, 'AWS::Logs::MetricFilter').map(([, f]) => f.Properties);
    expect(filters.map((f) => `${f.MetricTransformations[0].MetricName}:${f.MetricTransformations[0].Dimensions.map((d: any) => d.Key).join(',')}`).sort()).toEqual(
      ['ClientErrors:ApiKeyId', 'Latency:ApiKeyId', 'Requests:ApiKeyId', 'ServerErrors:ApiKeyId', 'Throttles:ApiKeyId', 'Throttles:Route'].sort(),
    );
    const alarms = resources(devApi, 'AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .filter((a) => String(a.AlarmDescription).startsWith('fmft-dev-api:'));
    expect(alarms).toHaveLength(2);
    for (const a of alarms) expect(a.AlarmActions).toHaveLength(1);
    expect(alarms.map((a) => a.Threshold).sort()).toEqual([ENVIRONMENTS.dev.api!.alarms.maxServerErrorPercent, ENVIRONMENTS.dev.api!.alarms.maxLatencyP99Ms].sort());
  });

  test('answer cache: a KMS-encrypted on-demand table with TTL, that only the buffered handler reads and writes, through a DynamoDB gateway', () => {
    const table = resources(devApi, 'AWS::DynamoDB::Table')[0][1];
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'key', KeyType: 'HASH' }],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: expect.anything() },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    const fns = resources(devApi, 'AWS::Lambda::Function').map(([, f]) => f.Properties);
    const buffered = fns.find((f) => f.Handler === 'index.handler');
    const stream = fns.find((f) => f.Handler === 'index.streamHandler');
    expect(buffered.Environment.Variables).toMatchObject({ CACHE_TABLE: { Ref: expect.stringMatching(/^InferenceApiAnswerCache/) }, CACHE_TTL_SECONDS: '3600' });
    expect(stream.Environment.Variables.CACHE_TABLE).toBeUndefined();
    const statements = resources(devApi, 'AWS::IAM::ManagedPolicy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const dynamo = statements.filter((st: any) => JSON.stringify(st.Action).includes('dynamodb:'));
    expect(dynamo.map((st: any) => st.Action)).toEqual([['dynamodb:GetItem', 'dynamodb:PutItem']]);
    dev.templates.network.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.dynamodb']] },
    });
    expect(JSON.stringify(resources(devApi, 'AWS::CloudWatch::Dashboard')[0][1].Properties.DashboardBody)).toContain('Answer cache hit rate (%)');
  });

  test("answer cache: the buffered function may describe the A/B endpoint it serves (the key's live endpoint config), that endpoint only", () => {
    const endpointArn = { 'Fn::Join': ['', ['arn:aws:sagemaker:us-east-1:', { Ref: 'AWS::AccountId' }, ':endpoint/fmft-prod-llm']] };
    const describeEndpoint = (tpl: Template) =>
      resources(tpl, 'AWS::IAM::ManagedPolicy').flatMap(([, p]) =>
        [p.Properties.PolicyDocument.Statement]
          .flat()
          .filter((st: any) => /sagemaker:(Describe|\*)/.test(JSON.stringify(st.Action)))
          .map((st: any) => ({ roles: p.Properties.Roles, statement: st })),
      );
    const roleOf = (tpl: Template, handler: string) => resources(tpl, 'AWS::Lambda::Function').find(([, f]) => f.Properties.Handler === handler)![1].Properties.Role;
    const bufferedRole = roleOf(prodApi, 'index.handler');
    expect(bufferedRole).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    // prod has api.cache and serves the fixture's A/B endpoint: one statement, on the buffered function's role.
    expect(describeEndpoint(prodApi)).toEqual([
      { roles: [{ Ref: bufferedRole['Fn::GetAtt'][0] }], statement: { Effect: 'Allow', Action: 'sagemaker:DescribeEndpoint', Resource: endpointArn } },
    ]);
    // dev has a cache but serves no A/B endpoint; without api.cache nothing is looked up.
    expect(describeEndpoint(devApi)).toEqual([]);
    const uncached = Template.fromStack(synthesizeEnvironment(configWith(servingConfig, (c) => delete c.api.cache)).platform.api!);
    expect(describeEndpoint(uncached)).toEqual([]);
    expect(JSON.stringify(uncached.toJSON())).not.toContain('sagemaker:Describe');
  });

  test('without api.cache: no table, no cache settings, no DynamoDB gateway', () => {
    const plain = synthesizeEnvironment(configWith(ENVIRONMENTS.dev, (c) => delete c.api.cache));
    const tpl = Template.fromStack(plain.platform.api!);
    expect(resources(tpl, 'AWS::DynamoDB::Table')).toEqual([]);
    expect(JSON.stringify(tpl.toJSON())).not.toMatch(/CACHE_TABLE|dynamodb:/);
    expect(JSON.stringify(plain.templates.network.toJSON())).not.toContain('.dynamodb');
  });

  test('private: only through the VPC\'s execute-api endpoint, which admits the configured callers on HTTPS, with no unacknowledged finding', () => {
    const privateConfig = configWith(ENVIRONMENTS.dev, (c) => {
      c.api.endpointType = 'private';
      c.api.privateClientCidrs = ['10.40.0.0/16', '192.168.10.0/24'];
      c.network.interfaceEndpoints.push('execute-api');
    });
    const synth = synthesizeEnvironment(privateConfig);
    const tpl = Template.fromStack(synth.platform.api!);
    const api = resources(tpl, 'AWS::ApiGateway::RestApi')[0][1].Properties;
    expect(api.EndpointConfiguration).toEqual({ Types: ['PRIVATE'], VpcEndpointIds: [expect.anything()] });
    const [deny, allow] = api.Policy.Statement;
    expect(deny).toMatchObject({ Effect: 'Deny', Action: 'execute-api:Invoke', Principal: { AWS: '*' }, Condition: { StringNotEquals: { 'aws:SourceVpce': expect.anything() } } });
    expect(allow).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke', Condition: { StringEquals: { 'aws:SourceVpce': expect.anything() } } });
    // Both name the endpoint the API is bound to.
    expect(deny.Condition.StringNotEquals['aws:SourceVpce']).toEqual(allow.Condition.StringEquals['aws:SourceVpce']);
    expect(api.EndpointConfiguration.VpcEndpointIds[0]).toEqual(allow.Condition.StringEquals['aws:SourceVpce']);
    const network = synth.templates.network;
    network.hasResourceProperties('AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.us-east-1.execute-api', PrivateDnsEnabled: true });
    const groups = resources(network, 'AWS::EC2::SecurityGroup').map(([, g]) => g.Properties).filter((g) => String(g.GroupDescription).startsWith('execute-api'));
    expect(groups).toHaveLength(1);
    expect(groups[0].SecurityGroupIngress.map((r: any) => [r.CidrIp, r.FromPort, r.ToPort])).toEqual([
      ['10.40.0.0/16', 443, 443],
      ['192.168.10.0/24', 443, 443],
    ]);
    expect(unacknowledgedFindings(synth.report)).toEqual([]);
  });

  test('snapshot (dev)', () => {
    expect(normalizedTemplate(devApi)).toMatchSnapshot();
  });

  test('outputs: the URL, the API id, each consumer\'s key id and the dashboard', () => {
    const outputs = Object.keys(devApi.toJSON().Outputs);
    expect(outputs).toEqual(expect.arrayContaining(['ApiUrl', 'ApiId', 'ApiKeyIds', 'UsageDashboardName']));
  });
});

describe('api config', () => {
  const problems = (change: (c: any) => void, base: EnvironmentConfig = ENVIRONMENTS.dev) => {
    try {
      validateEnvironmentConfig(configWith(base, change));
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };

  test('API keys need consumers; IAM alone takes none', () => {
    expect(problems((c) => (c.api.consumers = []))).toMatch(/api\.consumers: .*authentication 'api-key' gives each consumer an API key: list at least one consumer/);
    expect(problems((c) => (c.api.authentication = 'iam'))).toMatch(/api\.consumers: .*authentication 'iam' uses no API keys/);
    expect(problems((c) => ((c.api.authentication = 'iam'), (c.api.consumers = [])))).toBe('');
  });

  test('consumer names are unique, and no consumer exceeds the stage', () => {
    expect(problems((c) => c.api.consumers.push({ ...c.api.consumers[0] }))).toMatch(/api\.consumers\[2\]\.name: got "playground"; consumer names must be unique/);
    expect(problems((c) => (c.api.consumers[0].rateLimit = 51))).toMatch(/api\.consumers\[0\]\.rateLimit: got 51; allowed: at most api\.throttle\.rateLimit \(50\)/);
    expect(problems((c) => (c.api.consumers[0].burstLimit = 101))).toMatch(/api\.consumers\[0\]\.burstLimit: got 101; allowed: at most api\.throttle\.burstLimit \(100\)/);
    expect(problems((c) => (c.api.consumers[0].name = 'Bad_Name'))).toMatch(/api\.consumers\[0\]\.name: got "Bad_Name"; allowed: lowercase letters, digits and single hyphens/);
    expect(problems((c) => (c.api.consumers[0].quota.period = 'YEAR'))).toMatch(/api\.consumers\[0\]\.quota\.period: got "YEAR"; allowed: DAY, WEEK, MONTH/);
  });

  test("a private API names its callers' ranges and has the execute-api endpoint; a regional one names none", () => {
    expect(problems((c) => (c.api.endpointType = 'private'))).toMatch(/api\.privateClientCidrs: got null; a private API needs its callers' address ranges/);
    expect(problems((c) => (c.api.endpointType = 'private'))).toMatch(/api\.endpointType: got "private"; a private API is reached through the 'execute-api' interface endpoint/);
    expect(problems((c) => (c.api.privateClientCidrs = ['10.0.0.0/8']))).toMatch(/api\.privateClientCidrs: .*only a private API \(endpointType 'private'\) has client ranges/);
    expect(problems((c) => ((c.api.endpointType = 'private'), (c.api.privateClientCidrs = ['10.0.0.0/33']), c.network.interfaceEndpoints.push('execute-api')))).toMatch(
      /api\.privateClientCidrs\[0\]: got "10\.0\.0\.0\/33"/,
    );
    expect(problems((c) => ((c.api.endpointType = 'private'), (c.api.privateClientCidrs = ['10.0.0.0/8']), c.network.interfaceEndpoints.push('execute-api')))).toBe('');
  });

  test('the answer cache keeps answers from a minute to a week', () => {
    expect(problems((c) => (c.api.cache.ttlSeconds = 59))).toMatch(/api\.cache\.ttlSeconds: got 59; allowed: a whole number of seconds from 60 to 604800/);
    expect(problems((c) => (c.api.cache.ttlSeconds = 604801))).toMatch(/api\.cache\.ttlSeconds: got 604801/);
  });

  test("timeouts: buffered routes within API Gateway's 29 s, a stream at least as long", () => {
    expect(problems((c) => (c.api.modelTimeoutSeconds = 29))).toMatch(/api\.modelTimeoutSeconds: got 29; allowed: a whole number of seconds from 1 to 28/);
    expect(problems((c) => (c.api.streamTimeoutSeconds = 901))).toMatch(/api\.streamTimeoutSeconds: got 901; allowed: a whole number of seconds from 30 to 900/);
    expect(problems((c) => ((c.api.streamTimeoutSeconds = 30), (c.api.modelTimeoutSeconds = 28), (c.api.consumers = c.api.consumers)))).toBe('');
  });

  test('without NAT the API reaches the runtimes it calls through interface endpoints', () => {
    const withoutRuntime = (c: any) => (c.network.interfaceEndpoints = c.network.interfaceEndpoints.filter((e: string) => e !== 'sagemaker-runtime'));
    // Serving nothing, the API calls nothing.
    expect(problems((c) => ((c.monitoring.canary = undefined), (c.serving.promotion = undefined), withoutRuntime(c)))).toBe('');
    expect(problems((c) => ((c.monitoring.canary = undefined), (c.serving.promotion = undefined), withoutRuntime(c)), servingConfig)).toMatch(
      /api: got "api"; the API's functions call 'sagemaker-runtime' through interface endpoints/,
    );
    const withoutBedrock = (c: any) => (c.network.interfaceEndpoints = c.network.interfaceEndpoints.filter((e: string) => e !== 'bedrock-runtime'));
    expect(problems((c) => ((c.monitoring.canary = undefined), withoutBedrock(c)), servingConfig)).toMatch(/the API's functions call 'bedrock-runtime'/);
  });

  test('Bedrock models: a provisioned or deployed model of primaryRegion, under an id no other served model has', () => {
    const bedrock = (m: any) => (c: any) => (c.serving.bedrockModels = [m]);
    expect(problems(bedrock({ name: 'nova', modelArn: 'arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.nova-micro-v1:0:128k/abc' }))).toMatch(
      /serving\.bedrockModels\[0\]\.modelArn: got .*; allowed: a Bedrock ARN arn:aws:bedrock:<region>:<account>:provisioned-model\/<id>/,
    );
    expect(problems(bedrock({ name: 'nova', modelArn: 'arn:aws:bedrock:eu-west-1:111122223333:provisioned-model/abcdefgh1234' }))).toMatch(
      /serving\.bedrockModels\[0\]\.modelArn: got .*; allowed: a model in primaryRegion us-east-1/,
    );
    expect(problems(bedrock({ name: 'serving', modelArn: BEDROCK_ARN }))).toMatch(/serving\.bedrockModels\[0\]\.name: got "serving"; the inference API's model ids must be unique/);
    expect(problems((c) => (c.serving.bedrockModels = [{ name: 'support-assistant', modelArn: BEDROCK_ARN }]), loadEnvironmentConfig('prod', FIXTURE))).toMatch(
      /serving\.bedrockModels\[0\]\.name: got "support-assistant"; the inference API's model ids must be unique/,
    );
    expect(problems((c) => (c.serving.sharedEndpoint.components[0].name = 'serving'), loadEnvironmentConfig('prod', FIXTURE))).toMatch(
      /serving\.sharedEndpoint\.components\[0\]\.name: got "serving"; 'serving' is the inference API's id of the A\/B endpoint/,
    );
    expect(problems(bedrock({ name: 'nova', modelArn: 'arn:aws:bedrock:us-east-1:111122223333:custom-model-deployment/a1b2c3d4e5f6' }))).toBe('');
    // Converse takes 12 lowercase letters and digits as the id (botocore's modelId pattern), nothing else.
    expect(problems(bedrock({ name: 'nova', modelArn: 'arn:aws:bedrock:us-east-1:111122223333:provisioned-model/ABCDEFGH1234' }))).toMatch(/the id 12 lowercase letters and digits/);
    expect(problems(bedrock({ name: 'nova', modelArn: 'arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc' }))).toMatch(/the id 12 lowercase letters and digits/);
  });
});
