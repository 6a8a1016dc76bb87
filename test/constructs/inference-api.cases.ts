import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { ACCESS_LOG_FORMAT, InferenceApi, InferenceApiProps } from '../../lib/constructs/api/inference-api';
import { testStack } from '../support/app';

function build(change: Partial<InferenceApiProps> = {}) {
  const stack = testStack();
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, restrictDefaultSecurityGroup: false, subnetConfiguration: [{ name: 'fn', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  const key = new kms.Key(stack, 'Key');
  const api = new InferenceApi(stack, 'Api', {
    apiName: 'test-api',
    servedModels: [{ id: 'serving', backend: 'sagemaker-endpoint', endpointName: 'e', versions: ['v'], streaming: true }],
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 });'),
    authentication: 'api-key',
    consumers: [{ name: 'app', rateLimit: 1, burstLimit: 2 }],
    throttle: { rateLimit: 10, burstLimit: 20 },
    modelTimeout: Duration.seconds(20),
    streamTimeout: Duration.minutes(5),
    reservedConcurrency: 2,
    wafRateLimitPer5Minutes: 1000,
    placement: { vpc, subnets: vpc.isolatedSubnets, securityGroups: [new ec2.SecurityGroup(stack, 'Sg', { vpc })] },
    key,
    logRetention: logs.RetentionDays.ONE_MONTH,
    deadLetterQueue: new sqs.Queue(stack, 'Dlq', { encryptionMasterKey: key }),
    metricsNamespace: 'Test/Api',
    ...change,
  });
  return { stack, api, template: Template.fromStack(stack) };
}

describe('InferenceApi', () => {
  test('the access log line is JSON once API Gateway fills it in, and names the key, the route and the status', () => {
    const line = ACCESS_LOG_FORMAT.replace(/\$context\.[a-zA-Z.]+/g, (v) => (/status|responseLatency|requestTimeEpoch/.test(v) ? '200' : 'x'));
    expect(JSON.parse(line)).toMatchObject({ apiKeyId: 'x', route: 'x', status: 200, latencyMs: 200 });
  });

  test('the execution log group API Gateway would make is made first, encrypted and expiring', () => {
    const { template } = build();
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup')).map((g: any) => g.Properties);
    const execution = groups.find((g) => JSON.stringify(g.LogGroupName ?? '').includes('API-Gateway-Execution-Logs_'));
    expect(execution).toMatchObject({ KmsKeyId: expect.anything(), RetentionInDays: 30 });
    expect(JSON.stringify(execution.LogGroupName)).toContain('/v1');
  });

  test("the account's logging role is kept when the stack goes: the setting outlives it", () => {
    const { template } = build();
    template.hasResource('AWS::IAM::Role', { DeletionPolicy: 'Retain', Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'apigateway.amazonaws.com' } }] } } });
    template.hasResourceProperties('AWS::ApiGateway::Account', { CloudWatchRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiLoggingRole'), 'Arn'] } });
  });

  test('a stream ends with its error event before Lambda ends the function', () => {
    const { template } = build();
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).map((f: any) => f.Properties);
    const stream = fns.find((f) => f.Handler === 'index.streamHandler');
    expect(Number(stream.Environment.Variables.MODEL_TIMEOUT_MS)).toBe(stream.Timeout * 1000 - 2000);
    const buffered = fns.find((f) => f.Handler === 'index.handler');
    expect(Number(buffered.Environment.Variables.MODEL_TIMEOUT_MS)).toBe(20000);
    expect(buffered.Timeout).toBe(22);
  });

  test('refuses API keys without consumers', () => {
    expect(() => build({ consumers: [] })).toThrow(/consumers: got none; authentication 'api-key' needs at least one/);
  });

  test('refuses consumers with IAM alone', () => {
    expect(() => build({ authentication: 'iam' })).toThrow(/consumers: authentication 'iam' has no API keys; list none/);
  });

  test('refuses a model timeout beyond what a buffered integration can wait', () => {
    expect(() => build({ modelTimeout: Duration.seconds(29) })).toThrow(/modelTimeout: got 29 s; allowed: 1 to 28 s/);
  });

  test("refuses a stream timeout beyond Lambda's", () => {
    expect(() => build({ streamTimeout: Duration.minutes(16) })).toThrow(/streamTimeout: got 960 s; allowed: 3 to 900 s/);
  });

  test('refuses two served models with one id', () => {
    const m = { id: 'serving', backend: 'sagemaker-endpoint' as const, endpointName: 'e', versions: ['v'], streaming: true };
    expect(() => build({ servedModels: [m, m] })).toThrow(/servedModels: ids serving appear more than once/);
  });

  test("refuses a web ACL rate limit below WAF's minimum", () => {
    expect(() => build({ wafRateLimitPer5Minutes: 9 })).toThrow(/wafRateLimitPer5Minutes: got 9; allowed: a whole number >= 10/);
  });
});
