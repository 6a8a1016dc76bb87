import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeEndpointCommand } from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand, InvokeEndpointWithResponseStreamCommand } from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { dynamoDbResponseCache } from '../../lib/api/cache-dynamodb';
import { BEDROCK, blob, INFERENCE_COMPONENT, invoke, invokeStream, post, SAGEMAKER_ENDPOINT, testApi, useSdkMocks } from './support';

const ROOT = path.join(__dirname, '..', '..');

/**
 * Every request in `log`, checked against its operation's input shape in botocore's service models by the
 * project's own checker (training/tests/api_requests.py): the SDK mocks accept anything, AWS does not.
 */
function apiViolations(log: Array<[string, string, unknown]>): string[] {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'api-requests-')), 'log.json');
  fs.writeFileSync(file, JSON.stringify(log));
  const script = [
    'import json, sys',
    'from training.tests.api_requests import api_violations',
    'log = [tuple(entry) for entry in json.load(open(sys.argv[1]))]',
    'print(json.dumps(api_violations(log, "lib/api")))',
  ].join('\n');
  const out = execFileSync(path.join(ROOT, '.venv', 'bin', 'python'), ['-c', script, file], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out);
}

describe('inference API requests against the AWS service models', () => {
  const sdk = useSdkMocks();

  test('every request the handler and the cache send is one SageMaker runtime, SageMaker, Bedrock runtime and DynamoDB accept', async () => {
    sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: 'billing' }]), InvokedProductionVariant: 'current' });
    sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).rejects(Object.assign(new Error('busy'), { name: 'ThrottlingException' }));
    sdk.bedrock.on(ConverseCommand).resolves({ output: { message: { role: 'assistant', content: [{ text: 'billing' }] } }, stopReason: 'end_turn' });
    sdk.bedrock.on(ConverseStreamCommand).rejects(Object.assign(new Error('busy'), { name: 'ThrottlingException' }));
    const dynamodb = mockClient(DynamoDBClient);
    dynamodb.on(GetItemCommand).resolves({});
    dynamodb.on(PutItemCommand).resolves({});
    try {
      const { api } = testApi({ cache: dynamoDbResponseCache('fmft-dev-api-answers', 3600, 'us-east-1', new DynamoDBClient({ region: 'us-east-1' })) });
      const full = { prompt: 'Claim filed?', system: 'Be brief.', parameters: { maxNewTokens: 4096, temperature: 0.7, topP: 0.9, stop: ['\n\n', 'END'] } };
      for (const model of [SAGEMAKER_ENDPOINT.id, INFERENCE_COMPONENT.id, BEDROCK.id]) {
        await invoke(api, post('generate', model, full));
        await invoke(api, post('generate', model, { prompt: 'greedy, so cached' }));
        await invoke(api, post('classify', model, { text: 'I was charged twice', labels: ['billing', 'technical support and everything else'] }));
        await invoke(api, post('summarize', model, { document: 'A long document.' }));
        await invoke(api, post('answer', model, { question: 'When?', context: 'On May 3.' }));
        await invokeStream(api, post('generate-stream', model, full));
      }
      const log: Array<[string, string, unknown]> = [
        ...sdk.sagemaker.commandCalls(InvokeEndpointCommand).map((c) => ['sagemaker-runtime', 'InvokeEndpoint', c.args[0].input] as [string, string, unknown]),
        ...sdk.sagemaker.commandCalls(InvokeEndpointWithResponseStreamCommand).map((c) => ['sagemaker-runtime', 'InvokeEndpointWithResponseStream', c.args[0].input] as [string, string, unknown]),
        ...sdk.bedrock.commandCalls(ConverseCommand).map((c) => ['bedrock-runtime', 'Converse', c.args[0].input] as [string, string, unknown]),
        ...sdk.bedrock.commandCalls(ConverseStreamCommand).map((c) => ['bedrock-runtime', 'ConverseStream', c.args[0].input] as [string, string, unknown]),
        ...dynamodb.commandCalls(GetItemCommand).map((c) => ['dynamodb', 'GetItem', c.args[0].input] as [string, string, unknown]),
        ...dynamodb.commandCalls(PutItemCommand).map((c) => ['dynamodb', 'PutItem', c.args[0].input] as [string, string, unknown]),
        ...sdk.sagemakerApi.commandCalls(DescribeEndpointCommand).map((c) => ['sagemaker', 'DescribeEndpoint', c.args[0].input] as [string, string, unknown]),
      ];
      // Each operation was exercised: 2 SageMaker models x 4 buffered routes, 1 Bedrock model x 4, streams, cache,
      // and the A/B endpoint's config for the cache key (once: it is kept for a minute).
      expect(log.map(([service, operation]) => `${service}.${operation}`).reduce<Record<string, number>>((n, k) => ({ ...n, [k]: (n[k] ?? 0) + 1 }), {})).toEqual({
        'sagemaker-runtime.InvokeEndpoint': 10,
        'sagemaker-runtime.InvokeEndpointWithResponseStream': 2,
        'bedrock-runtime.Converse': 5,
        'bedrock-runtime.ConverseStream': 1,
        'dynamodb.GetItem': 12,
        'dynamodb.PutItem': 12,
        'sagemaker.DescribeEndpoint': 1,
      });
      expect(apiViolations(log)).toEqual([]);
    } finally {
      dynamodb.restore();
    }
  });

  test('the check finds what AWS would refuse: a Converse modelId that is no model ARN, an endpoint name over 63 characters, one with an underscore', () => {
    expect(
      apiViolations([
        ['bedrock-runtime', 'Converse', { modelId: 'arn:aws:bedrock:us-east-1:111122223333:provisioned-model/ABC', messages: [{ role: 'user', content: [{ text: 'hi' }] }] }],
        ['sagemaker-runtime', 'InvokeEndpoint', { EndpointName: 'e'.repeat(64), Body: '{}' }],
        ['sagemaker', 'DescribeEndpoint', { EndpointName: 'fmft_dev_llm' }],
      ]),
    ).toEqual([
      expect.stringMatching(/^bedrock-runtime\.Converse: modelId: .* does not match the pattern/),
      expect.stringMatching(/^sagemaker-runtime\.InvokeEndpoint: EndpointName: length 64 exceeds the maximum 63/),
      expect.stringMatching(/^sagemaker\.DescribeEndpoint: EndpointName: .* does not match the pattern/),
    ]);
  });
});
