/**
 * The local server of the inference API: the real handler (lib/api/handler.ts) behind plain HTTP, its models
 * replaced by a script, for the client libraries' tests and the shared vectors (api/vectors/README.md says
 * exactly what it does; this file keeps to that).
 *
 *   node_modules/.bin/tsx api/local-server.ts [--verbose]
 *
 * It prints `{"url": "http://127.0.0.1:<port>/v1/"}` on stdout once it listens on a free port, and exits
 * when its stdin closes. `--verbose` writes the handler's metrics lines and error log to stderr (by default
 * they are dropped, so that a harness that never reads the pipes cannot fill them and stall the server).
 *
 * Every request to `/v1/` takes the next script step: `transport` and `gateway` steps are answered here, as a
 * broken connection and as API Gateway's gateway responses; `model` steps are taken by the scripted backend
 * when the handler calls a model. Authentication is checked as API Gateway does, before the handler: the
 * configured API key, or a SigV4 signature re-computed here with the configured credentials.
 *
 * The order per request: a `transport` step (the connection drops, whoever calls); authentication (a refused
 * caller gets `forbidden` and takes no step); a `gateway` step; the handler, which takes a `model` step only
 * when it calls a model (a request it refuses first takes none; a model call that finds no model step next is
 * a 500 `internal` problem saying so).
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { Backend, FinishReason, Generation, StreamEvent, Usage } from '../lib/api/backends/backend';
import { OPENAPI, PROBLEM_TYPES, ProblemCode } from '../lib/api/contract';
import { InferenceApi, ProxyEvent } from '../lib/api/handler';
import { ApiProblem, PROBLEM_CONTENT_TYPE } from '../lib/api/problems';
import { parseServedModels, ServedModel } from '../lib/api/served-models';
import { PRELUDE_DELIMITER_BYTES } from '../lib/api/stream';
import { gatewayProblemTemplate } from '../lib/constructs/api/inference-api';

/** The `server` block of api/vectors/vectors.json. */
interface ServerSettings {
  readonly apiKey: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly models: unknown[];
}

/** What a scripted model answers (api/vectors/README.md, "Script steps"). */
interface ModelStep {
  readonly text?: string;
  readonly tokens?: readonly string[];
  readonly finishReason?: FinishReason;
  readonly usage?: Usage;
  readonly version?: string;
  readonly problem?: ProblemCode;
}

type Step = { readonly gateway: ProblemCode } | { readonly transport: 'reset' } | { readonly model: ModelStep };

/** One request to `/v1/` as `GET /__control/requests` lists it. */
interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
}

const STAGE = '/v1';
const SERVICE = 'execute-api';
const FINISH_REASONS: readonly FinishReason[] = ['stop', 'length', 'content-filter', 'unknown'];
/** API Gateway refuses a signature whose x-amz-date is further than this from its clock. */
const SIGNATURE_SKEW_MS = 15 * 60 * 1000;
/** `$context.error.messageString` of API Gateway's own refusals, by the problem they are mapped to. */
const GATEWAY_MESSAGES: Partial<Record<ProblemCode, string>> = {
  forbidden: 'Forbidden',
  throttled: 'Too Many Requests',
  'quota-exceeded': 'Limit Exceeded',
  'payload-too-large': 'Request Too Long',
  'model-timeout': 'Endpoint request timed out',
  unavailable: 'Internal server error',
  internal: 'Internal server error',
  'invalid-request': 'Invalid request body',
  'not-found': 'Not Found',
};

const vectors = JSON.parse(readFileSync(join(__dirname, 'vectors', 'vectors.json'), 'utf8')) as { server: ServerSettings };
const settings = vectors.server;
const verbose = process.argv.includes('--verbose');

// ---------------------------------------------------------------- the script

let script: Step[] = [];
let requests: RecordedRequest[] = [];

const isProblemCode = (value: unknown): value is ProblemCode => typeof value === 'string' && value in PROBLEM_TYPES;

/** The problems of a posted script, each with its index; empty when every step is one the README defines. */
function scriptProblems(steps: unknown): string[] {
  if (!Array.isArray(steps)) return ['steps: must be an array of steps'];
  return steps.flatMap((step: unknown, i): string[] => {
    const s = (step ?? {}) as Record<string, unknown>;
    const keys = typeof step === 'object' && step !== null ? Object.keys(s) : [];
    if (keys.length !== 1) return [`steps[${i}]: must be an object with exactly one of gateway, transport, model`];
    if ('gateway' in s) return isProblemCode(s.gateway) ? [] : [`steps[${i}].gateway: ${JSON.stringify(s.gateway)} is not a code of api/problems.json`];
    if ('transport' in s) return s.transport === 'reset' ? [] : [`steps[${i}].transport: must be "reset"`];
    if (!('model' in s) || typeof s.model !== 'object' || s.model === null) return [`steps[${i}]: must be an object with exactly one of gateway, transport, model`];
    const m = s.model as Record<string, unknown>;
    const problems: string[] = [];
    const unknown = Object.keys(m).filter((k) => !['text', 'tokens', 'finishReason', 'usage', 'version', 'problem'].includes(k));
    if (unknown.length) problems.push(`steps[${i}].model: unknown fields ${unknown.join(', ')}`);
    if (m.problem !== undefined && !isProblemCode(m.problem)) problems.push(`steps[${i}].model.problem: ${JSON.stringify(m.problem)} is not a code of api/problems.json`);
    if (m.problem === undefined && !FINISH_REASONS.includes(m.finishReason as FinishReason)) problems.push(`steps[${i}].model.finishReason: must be one of ${FINISH_REASONS.join(', ')}`);
    if (m.problem === undefined && typeof m.text !== 'string' && !Array.isArray(m.tokens)) problems.push(`steps[${i}].model: needs text, tokens or problem`);
    if (m.tokens !== undefined && !(Array.isArray(m.tokens) && m.tokens.every((t) => typeof t === 'string'))) problems.push(`steps[${i}].model.tokens: must be an array of strings`);
    return problems;
  });
}

/** The next model step; a script that is empty or holds another kind of step next fails the call (500). */
function takeModelStep(model: ServedModel): ModelStep {
  const step = script[0];
  if (!step) throw new ApiProblem('internal', `The local server's script is empty: the call to model '${model.id}' has no step to take (POST /__control/script first).`);
  if (!('model' in step)) throw new ApiProblem('internal', `The local server's next script step is ${JSON.stringify(step)}, not the model step the call to model '${model.id}' needs.`);
  script.shift();
  return step.model;
}

function failure(step: ModelStep, model: ServedModel): ApiProblem {
  return new ApiProblem(step.problem!, `The local server's script made model '${model.id}' fail with ${step.problem}.`);
}

/** The models, answering from the script; `version` defaults to the model's first version, as the real backends do. */
const scriptedBackend: Backend = {
  async generate(model: ServedModel): Promise<Generation> {
    const step = takeModelStep(model);
    if (step.problem) throw failure(step, model);
    return {
      text: step.text ?? (step.tokens ?? []).join(''),
      finishReason: step.finishReason ?? 'stop',
      ...(step.usage ? { usage: step.usage } : {}),
      version: step.version ?? model.versions[0],
    };
  },
  stream(model: ServedModel): AsyncIterable<StreamEvent> {
    // Taken now, not on the first next(), so that the order of steps is the order of calls.
    const step = takeModelStep(model);
    return (async function* events(): AsyncGenerator<StreamEvent> {
      for (const text of step.tokens ?? (step.text === undefined ? [] : [step.text])) {
        // One macrotask per token, so each goes out as its own chunk and a client sees it stream.
        await new Promise((resolve) => setImmediate(resolve));
        yield { kind: 'token', text };
      }
      if (step.problem) throw failure(step, model);
      yield { kind: 'done', finishReason: step.finishReason ?? 'stop', ...(step.usage ? { usage: step.usage } : {}), version: step.version ?? model.versions[0] };
    })();
  },
};

const api = new InferenceApi({
  config: { models: parseServedModels(JSON.stringify(settings.models)), metricsNamespace: 'FMFT/LocalServer', modelTimeoutMs: 10_000, region: settings.region },
  backends: { sagemaker: scriptedBackend, bedrock: scriptedBackend },
  writeMetrics: (line) => verbose && process.stderr.write(`${line}\n`),
  logError: (entry) => verbose && process.stderr.write(`${JSON.stringify(entry)}\n`),
});

// ---------------------------------------------------------------- routes of api/openapi.json

interface Resource {
  readonly resource: string;
  readonly pattern: RegExp;
  readonly parameters: readonly string[];
  readonly methods: ReadonlySet<string>;
  readonly streaming: boolean;
}

/** Each path template of the document as a matcher: `/models/{model}/generate` -> `^/models/([^/]+)/generate$`. */
const RESOURCES: readonly Resource[] = Object.entries(OPENAPI.paths).map(([resource, item]) => {
  const parameters: string[] = [];
  const source = resource.split(/(\{[^}]+\})/).map((part) => {
    const name = /^\{([^}]+)\}$/.exec(part)?.[1];
    if (name === undefined) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    parameters.push(name);
    return '([^/]+)';
  });
  const operations = Object.entries(item as Record<string, { operationId?: string }>).filter(([method]) => method !== 'parameters');
  return {
    resource,
    pattern: new RegExp(`^${source.join('')}$`),
    parameters,
    methods: new Set(operations.map(([method]) => method.toUpperCase())),
    streaming: operations.some(([, op]) => op.operationId === 'generateStream'),
  };
});

// ---------------------------------------------------------------- API Gateway's part

/** The gateway response of `code`, as the deployed stage sends it (lib/constructs/api/inference-api.ts). */
function sendGatewayProblem(res: ServerResponse, code: ProblemCode, requestId: string, message = GATEWAY_MESSAGES[code] ?? PROBLEM_TYPES[code].title): void {
  const type = PROBLEM_TYPES[code];
  const body = gatewayProblemTemplate(code).replace('$context.error.messageString', () => JSON.stringify(message)).replace('$context.requestId', () => requestId);
  res.writeHead(type.status, {
    'Content-Type': PROBLEM_CONTENT_TYPE,
    ...(type.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(type.retryAfterSeconds) }),
    'x-amzn-RequestId': requestId,
  });
  res.end(body);
}

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

/** SHA-256 and HMAC-SHA256 of node:crypto in the shape SignatureV4 takes (as @smithy/hash-node does). */
class NodeSha256 {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  private readonly secret?: string | Uint8Array;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

// applyChecksum false: API Gateway does not require x-amz-content-sha256 (botocore's SigV4Auth leaves it out); a
// request that signs it is still checked against its body above.
const verifier = new SignatureV4({ service: SERVICE, region: settings.region, credentials: settings.credentials, sha256: NodeSha256, applyChecksum: false });

/** Why a SigV4 `Authorization` does not hold, or undefined when it does (the request re-signed with the same x-amz-date). */
async function signatureProblem(req: IncomingMessage, body: Buffer, authorization: string): Promise<string | undefined> {
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return 'Authorization is not an AWS4-HMAC-SHA256 signature';
  const [, accessKeyId, , region, service, signedHeaders, signature] = match;
  if (accessKeyId !== settings.credentials.accessKeyId) return 'The security token included in the request is invalid.';
  if (region !== settings.region || service !== SERVICE) return `Credential should be scoped to a valid region and service ${SERVICE}`;
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dateMatch) return 'Authorization header requires existence of either a X-Amz-Date or a Date header';
  const [, y, mo, d, h, mi, s] = dateMatch;
  const signingDate = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  if (Math.abs(Date.now() - signingDate.getTime()) > SIGNATURE_SKEW_MS) return 'Signature expired';
  const declared = req.headers['x-amz-content-sha256'];
  if (typeof declared === 'string' && declared !== 'UNSIGNED-PAYLOAD' && declared !== createHash('sha256').update(body).digest('hex')) return 'x-amz-content-sha256 is not the hash of the body';
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return "'Host' must be a signed header";
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = req.headers[name];
    if (value === undefined) return `Signed header ${name} is missing`;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(req.url ?? '/', 'http://local');
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const signed = await verifier.sign(
    { method: req.method ?? 'GET', protocol: 'http:', hostname: headers.host, path: url.pathname, query, headers, body: body.length ? body.toString('utf8') : undefined },
    { signingDate, signableHeaders: new Set(names) },
  );
  const recomputed = signed.headers.authorization ?? '';
  const expected = /Signature=([0-9a-f]{64})/.exec(recomputed)?.[1] ?? '';
  const sameNames = /SignedHeaders=([^,]+)/.exec(recomputed)?.[1] === signedHeaders;
  const sameSignature = expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  return sameNames && sameSignature ? undefined : 'The request signature we calculated does not match the signature you provided.';
}

/** Why API Gateway refuses the caller (the `forbidden` message), or undefined when it lets the request in. */
async function authProblem(req: IncomingMessage, body: Buffer): Promise<string | undefined> {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key.length === settings.apiKey.length && timingSafeEqual(Buffer.from(key), Buffer.from(settings.apiKey))) return undefined;
  const authorization = req.headers.authorization;
  if (authorization) return signatureProblem(req, body, authorization);
  return 'Forbidden';
}

// ---------------------------------------------------------------- HTTP

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A path segment decoded as API Gateway decodes path parameters; one that is not valid percent-encoding stays as sent. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** A Writable that reads the streaming integration's prelude (JSON, 8 NUL bytes) into the status line, then passes the body on as it comes. */
function preludeWriter(res: ServerResponse, requestId: string): Writable {
  let pending: Buffer | undefined = Buffer.alloc(0);
  const delimiter = Buffer.alloc(PRELUDE_DELIMITER_BYTES);
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      if (pending === undefined) {
        res.write(data, () => callback());
        return;
      }
      pending = Buffer.concat([pending, data]);
      const at = pending.indexOf(delimiter);
      if (at < 0) return callback();
      const prelude = JSON.parse(pending.subarray(0, at).toString('utf8')) as { statusCode: number; headers: Record<string, string> };
      const rest = pending.subarray(at + delimiter.length);
      pending = undefined;
      res.writeHead(prelude.statusCode, { ...prelude.headers, 'x-amzn-RequestId': requestId });
      if (rest.length) res.write(rest, () => callback());
      else callback();
    },
    final(callback) {
      res.end(() => callback());
    },
  });
}

/** One request to the API: the next step, authentication, then the handler. */
async function serveApi(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  const body = await readBody(req);
  const requestId = randomUUID();
  const next = script[0];
  if (next && 'transport' in next) {
    script.shift();
    req.socket.destroy();
    return;
  }
  const refused = await authProblem(req, body);
  if (refused !== undefined) return sendGatewayProblem(res, 'forbidden', requestId, refused);
  if (next && 'gateway' in next) {
    script.shift();
    return sendGatewayProblem(res, next.gateway, requestId);
  }
  const path = pathname.slice(STAGE.length) || '/';
  const method = req.method ?? 'GET';
  let found: { resource: Resource; values: string[] } | undefined;
  for (const resource of RESOURCES) {
    const m = resource.pattern.exec(path);
    if (m) {
      found = { resource, values: m.slice(1) };
      break;
    }
  }
  // API Gateway answers a path or method it does not have before any integration, as MISSING_AUTHENTICATION_TOKEN.
  if (!found || !found.resource.methods.has(method)) return sendGatewayProblem(res, 'forbidden', requestId, 'Missing Authentication Token');
  const pathParameters = Object.fromEntries(found.resource.parameters.map((name, i) => [name, decodeSegment(found.values[i])]));
  const event: ProxyEvent = {
    resource: found.resource.resource,
    path,
    httpMethod: method,
    pathParameters: found.resource.parameters.length ? pathParameters : null,
    body: body.length ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: { requestId, identity: { apiKeyId: req.headers['x-api-key'] ? 'local-api-key' : null } },
  };
  if (found.resource.streaming) {
    const writer = preludeWriter(res, requestId);
    res.on('close', () => writer.destroy());
    await api.handleStream(event, writer);
    return;
  }
  const result = await api.handle(event);
  res.writeHead(result.statusCode, { ...result.headers, 'x-amzn-RequestId': requestId });
  res.end(result.body);
}

async function serveControl(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  if (req.method === 'POST' && pathname === '/__control/script') {
    let posted: { steps?: unknown };
    try {
      posted = JSON.parse((await readBody(req)).toString('utf8')) as { steps?: unknown };
    } catch (error) {
      return sendJson(res, 400, { error: `The script is not JSON: ${(error as Error).message}` });
    }
    const problems = scriptProblems(posted?.steps);
    if (problems.length) return sendJson(res, 400, { error: `Invalid script:\n- ${problems.join('\n- ')}` });
    script = [...(posted.steps as Step[])];
    requests = [];
    return sendJson(res, 200, { steps: script.length });
  }
  if (req.method === 'GET' && pathname === '/__control/requests') return sendJson(res, 200, requests);
  return sendJson(res, 404, { error: `No control route ${req.method} ${pathname}; routes: POST /__control/script, GET /__control/requests` });
}

const server = createServer((req, res) => {
  const pathname = new URL(req.url ?? '/', 'http://local').pathname;
  let served: Promise<void>;
  if (pathname === STAGE || pathname.startsWith(`${STAGE}/`)) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    requests.push({ method: req.method ?? 'GET', path: pathname, headers });
    served = serveApi(req, res, pathname);
  } else if (pathname.startsWith('/__control/')) {
    served = serveControl(req, res, pathname);
  } else {
    served = Promise.resolve(sendGatewayProblem(res, 'forbidden', randomUUID(), 'Missing Authentication Token'));
  }
  served.catch((error: unknown) => {
    process.stderr.write(`local-server: ${(error as Error).stack ?? String(error)}\n`);
    if (!res.headersSent) sendGatewayProblem(res, 'internal', randomUUID());
    else res.destroy();
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`{"url": ${JSON.stringify(`http://127.0.0.1:${port}${STAGE}/`)}}\n`);
});

// The harness holds stdin open while it needs the server; its end (or the harness's exit) stops the server.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
