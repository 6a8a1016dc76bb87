import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ResponseCache } from './cache';

/** Loaded only when the API has a cache table (lazily, like the model backends), so the SDK costs nothing otherwise. */
/** Attribute names of a cache item: the key, the response body, and the epoch second DynamoDB's TTL deletes it after. */
export const CACHE_ATTRIBUTES = { key: 'key', body: 'body', expiresAt: 'expiresAt' } as const;

/**
 * The DynamoDB table of `tableName`. An item whose `expiresAt` has passed is a miss even before DynamoDB's TTL
 * deletes it (which may take days, per the TTL documentation).
 */
export class DynamoDbResponseCache implements ResponseCache {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly ttlSeconds: number,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async get(key: string, signal: AbortSignal): Promise<string | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { [CACHE_ATTRIBUTES.key]: { S: key } }, ConsistentRead: false }),
      { abortSignal: signal },
    );
    const item = out.Item;
    const expiresAt = Number(item?.[CACHE_ATTRIBUTES.expiresAt]?.N);
    if (!item || !(expiresAt > this.nowSeconds())) return undefined;
    return item[CACHE_ATTRIBUTES.body]?.S;
  }

  async put(key: string, body: string): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          [CACHE_ATTRIBUTES.key]: { S: key },
          [CACHE_ATTRIBUTES.body]: { S: body },
          [CACHE_ATTRIBUTES.expiresAt]: { N: String(this.nowSeconds() + this.ttlSeconds) },
        },
      }),
    );
  }
}

/** The cache of a Lambda container: its own client with short timeouts, so a slow table delays a request little. */
export function dynamoDbResponseCache(tableName: string, ttlSeconds: number, region: string, client?: DynamoDBClient): ResponseCache {
  const dynamodb = client ?? new DynamoDBClient({ region, maxAttempts: 2, requestHandler: { requestTimeout: 1000, connectionTimeout: 1000 } });
  return new DynamoDbResponseCache(dynamodb, tableName, ttlSeconds);
}
