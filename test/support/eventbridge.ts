import { MotoServer, startMoto } from './moto';

/**
 * Synthesized EventBridge rules run in moto's EventBridge, delivering to moto SQS queues, over the JSON
 * protocols (the SDK v3 has no EventBridge or SQS client among our dependencies). Tokens in a rule become
 * concrete values through `resolve`.
 */
export class LocalEventBridge {
  private rules = 0;

  constructor(private readonly moto: MotoServer) {}

  async call(service: 'events' | 'sqs', target: string, body: unknown): Promise<any> {
    const prefix = service === 'events' ? 'AWSEvents' : 'AmazonSQS';
    const response = await fetch(this.moto.endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': service === 'events' ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0',
        'X-Amz-Target': `${prefix}.${target}`,
        Authorization: `AWS4-HMAC-SHA256 Credential=testing/20261129/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${target}: ${text}`);
    return text ? JSON.parse(text) : {};
  }

  /**
   * Puts `rule` (a template's AWS::Events::Rule) with its first target's input transformer, targeting a new
   * queue; `resolve` turns each CloudFormation token of the pattern into a value. Returns the queue URL.
   */
  async load(rule: any, resolve: (token: any) => unknown, options: { withoutTransformer?: boolean } = {}): Promise<string> {
    const name = rule.Properties.Name ?? `rule-${++this.rules}`;
    const { QueueUrl } = await this.call('sqs', 'CreateQueue', { QueueName: `${name}-target` });
    const { Attributes } = await this.call('sqs', 'GetQueueAttributes', { QueueUrl, AttributeNames: ['QueueArn'] });
    await this.call('events', 'PutRule', { Name: name, EventPattern: JSON.stringify(resolveTokens(rule.Properties.EventPattern, resolve)) });
    const [target] = rule.Properties.Targets;
    const transformer = !options.withoutTransformer && target.InputTransformer ? { InputTransformer: target.InputTransformer } : {};
    await this.call('events', 'PutTargets', { Rule: name, Targets: [{ Id: 'target', Arn: Attributes.QueueArn, ...transformer }] });
    return QueueUrl;
  }

  async put(...entries: unknown[]): Promise<void> {
    await this.call('events', 'PutEvents', { Entries: entries });
  }

  /** Message bodies in the queue, parsed as JSON. */
  async received(queueUrl: string): Promise<any[]> {
    const { Messages } = await this.call('sqs', 'ReceiveMessage', { QueueUrl: queueUrl, MaxNumberOfMessages: 10 });
    return (Messages ?? []).map((m: any) => JSON.parse(m.Body));
  }
}

/** A PutEvents entry at a fixed time (2026-11-29T10:00:00Z). */
export function eventEntry(source: string, detailType: string, detail: unknown, resources: string[] = []) {
  return {
    Source: source,
    DetailType: detailType,
    Detail: JSON.stringify(detail),
    Resources: resources,
    Time: Date.parse('2026-11-29T10:00:00Z') / 1000, // the JSON protocol's timestamps are epoch seconds
  };
}

const INTRINSICS = ['Fn::GetAtt', 'Fn::GetStackOutput', 'Ref', 'Fn::Join', 'Fn::ImportValue', 'Fn::Sub'];

/** `value` with every CloudFormation intrinsic replaced by `resolve(intrinsic)`. */
export function resolveTokens(value: any, resolve: (token: any) => unknown): any {
  if (Array.isArray(value)) return value.map((v) => resolveTokens(v, resolve));
  if (value && typeof value === 'object') {
    if (Object.keys(value).length === 1 && INTRINSICS.includes(Object.keys(value)[0])) return resolve(value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTokens(v, resolve)]));
  }
  return value;
}

/**
 * The target input EventBridge makes of `event` with `transformer` (InputPathsMap paths in dot notation),
 * as its API reference describes: a placeholder inside a JSON string gets the value's text, one outside
 * quotes the value as JSON. moto applies input transformers differently (it inserts text unquoted and
 * cannot deliver a string input to SQS), so tests deliver the event untransformed and render it here.
 */
export function renderInput(transformer: { InputPathsMap: Record<string, string>; InputTemplate: string }, event: any): unknown {
  const at = (path: string) => path.replace(/^\$\./, '').split('.').reduce((v, k) => v?.[k], event);
  let text = '';
  let inString = false;
  const template = transformer.InputTemplate;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '"' && template[i - 1] !== '\\') inString = !inString;
    const placeholder = c === '<' ? /^<([A-Za-z0-9_.-]+)>/.exec(template.slice(i)) : null;
    if (placeholder && placeholder[1] in transformer.InputPathsMap) {
      const value = at(transformer.InputPathsMap[placeholder[1]]);
      text += inString ? JSON.stringify(String(value)).slice(1, -1) : JSON.stringify(value);
      i += placeholder[0].length - 1;
    } else {
      text += c;
    }
  }
  return JSON.parse(text);
}

/**
 * A moto server for the enclosing describe block (started before its tests, stopped after) and the
 * EventBridge on it: call the returned function inside a test.
 */
export function useLocalEventBridge(): () => LocalEventBridge {
  let moto: MotoServer | undefined;
  let bus: LocalEventBridge | undefined;
  beforeAll(async () => {
    moto = await startMoto();
    bus = new LocalEventBridge(moto);
  });
  afterAll(() => moto?.stop());
  return () => bus!;
}
