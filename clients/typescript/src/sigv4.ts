import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Provider, SourceData } from '@smithy/types';

/** AWS credentials, or a provider of them (e.g. `fromNodeProviderChain()` of @aws-sdk/credential-providers). */
export type AwsCredentials = AwsCredentialIdentity | Provider<AwsCredentialIdentity>;

/** API Gateway's signing name. */
export const SIGNING_SERVICE = 'execute-api';

/**
 * SHA-256 and HMAC-SHA256 from node:crypto in the shape SignatureV4 takes (what @smithy/hash-node does for
 * the AWS SDK in Node); the client needs Node 20+ for fetch anyway, so no JavaScript SHA-256 is bundled.
 */
export class NodeSha256 {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

  private readonly secret?: string | Uint8Array;

  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.hash = this.fresh();
  }

  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
}

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** Signs requests to the API with SigV4 (service execute-api), each attempt anew. */
export class RequestSigner {
  private readonly signer: SignatureV4;

  constructor(credentials: AwsCredentials, region: string) {
    this.signer = new SignatureV4({ service: SIGNING_SERVICE, region, credentials, sha256: NodeSha256 });
  }

  /**
   * The headers to send with a request to `url`: `headers` plus x-amz-date, x-amz-content-sha256, a session
   * token where the credentials have one, and Authorization. Host is signed but not returned (fetch sends it).
   */
  async sign(method: string, url: URL, headers: Readonly<Record<string, string>>, body: string | undefined): Promise<Record<string, string>> {
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of url.searchParams) {
      const seen = query[key];
      query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    const signed = await this.signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      ...(body === undefined ? {} : { body }),
    });
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) if (name.toLowerCase() !== 'host') out[name] = value;
    return out;
  }
}
