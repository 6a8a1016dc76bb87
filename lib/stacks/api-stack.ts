import * as path from 'path';
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ServedModel } from '../api/served-models';
import { ApiConfig, EnvironmentConfig, SERVING_MODEL_ID } from '../config/environment-config';
import { platformMetricNamespace } from '../config/monitoring-metrics';
import { dashboardName, resourceName } from '../config/naming';
import { API_STAGE_NAME, InferenceApi } from '../constructs/api/inference-api';
import { ApiUsageDashboard } from '../constructs/api/api-usage-dashboard';
import { DeadLetterQueue } from '../constructs/dead-letter-queue';
import { inferenceComponentName } from '../constructs/shared-model-endpoint';
import { typescriptHandlerCode } from '../constructs/typescript-handler-code';
import { environmentKey } from './environment-key';
import { NetworkStack } from './network-stack';
import { addOutputs } from './outputs';
import { SecurityStack } from './security-stack';

export interface ApiStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly api: ApiConfig;
  readonly network: NetworkStack;
  readonly security: SecurityStack;
}

/**
 * What the inference API serves, from the config: the A/B endpoint of `serving.variants` as model `serving`,
 * each inference component of the shared endpoint by its name, and each of `serving.bedrockModels`. Plain
 * names, as the endpoints stack names them, so this stack needs no export of it.
 */
export function servedModels(config: EnvironmentConfig): ServedModel[] {
  const s = config.serving;
  const endpointName = resourceName(config, 'llm');
  const sharedEndpointName = resourceName(config, 'llm-shared');
  return [
    ...(s.variants.length > 0
      ? [{ id: SERVING_MODEL_ID, backend: 'sagemaker-endpoint' as const, endpointName, versions: s.variants.map((v) => v.modelPackageArn), streaming: true, container: s.container }]
      : []),
    ...(s.sharedEndpoint?.components ?? []).map((c) => ({
      id: c.name,
      backend: 'sagemaker-inference-component' as const,
      endpointName: sharedEndpointName,
      inferenceComponentName: inferenceComponentName(sharedEndpointName, c.name),
      versions: [c.modelPackageArn],
      streaming: true,
      container: s.container,
    })),
    ...(s.bedrockModels ?? []).map((m) => ({ id: m.name, backend: 'bedrock' as const, modelArn: m.modelArn, versions: [m.modelArn], streaming: true })),
  ];
}

function privateEndpointOf(network: NetworkStack) {
  const endpoint = network.network.interfaceEndpoints['execute-api'];
  // The config refuses a private API without the endpoint; this is the construct-level guard.
  if (!endpoint) throw new Error("api.endpointType 'private' needs the 'execute-api' interface endpoint in network.interfaceEndpoints");
  return endpoint;
}

/**
 * The inference API of the environment (`<prefix>-<env>-api`): one REST API in front of every served model,
 * its consumers' keys and usage plans, its web ACL, and the usage dashboard and alarms.
 */
export class ApiStack extends Stack {
  readonly inferenceApi: InferenceApi;
  readonly dashboard: ApiUsageDashboard;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { config, api, network, security } = props;
    const net = network.network;
    const key = environmentKey(this, 'ApiLogsKey', config, 'api', 'Inference API logs and function settings', { allowCloudWatchLogs: true }).key;
    const deadLetters = new DeadLetterQueue(this, 'DeadLetters', { key, topic: security.alerts.topic, sources: 'the inference API functions' }).queue;
    const apiName = resourceName(config, 'api');
    this.inferenceApi = new InferenceApi(this, 'InferenceApi', {
      apiName,
      servedModels: servedModels(config),
      code: typescriptHandlerCode(path.join(__dirname, '..', 'api', 'handler.ts')),
      authentication: api.authentication,
      consumers: api.consumers,
      throttle: api.throttle,
      modelTimeout: Duration.seconds(api.modelTimeoutSeconds),
      streamTimeout: Duration.seconds(api.streamTimeoutSeconds),
      reservedConcurrency: api.reservedConcurrency,
      wafRateLimitPer5Minutes: api.wafRateLimitPer5Minutes,
      placement: { vpc: net.vpc, subnets: net.subnetsFor('processing').subnets, securityGroups: [net.securityGroups.lambda] },
      key,
      logRetention: api.accessLogRetentionDays as logs.RetentionDays,
      deadLetterQueue: deadLetters,
      metricsNamespace: `${platformMetricNamespace(config.name)}/Api`,
      cacheTtl: api.cache ? Duration.seconds(api.cache.ttlSeconds) : undefined,
      privateEndpoint: api.endpointType === 'private' ? privateEndpointOf(network) : undefined,
    });
    this.dashboard = new ApiUsageDashboard(this, 'Usage', {
      api: this.inferenceApi,
      dashboardName: dashboardName(apiName, this.region),
      alarms: api.alarms,
      topic: security.alerts.topic,
    });
    const i = this.inferenceApi;
    addOutputs(this, {
      ApiUrl: { value: i.stage.urlForPath('/'), description: `Base URL of the inference API (stage ${API_STAGE_NAME}); e.g. GET <ApiUrl>models` },
      ApiId: { value: i.api.restApiId, description: 'REST API id' },
      ...(Object.keys(i.apiKeys).length
        ? {
            ApiKeyIds: {
              value: Stack.of(this).toJsonString(Object.fromEntries(Object.entries(i.apiKeys).map(([name, k]) => [name, k.keyId]))),
              description: 'API key id of each consumer as JSON {consumer: id}: aws apigateway get-api-key --api-key <id> --include-value --query value',
            },
          }
        : {}),
      UsageDashboardName: { value: this.dashboard.dashboard.dashboardName, description: 'CloudWatch dashboard of calls, latency, errors and throttles per route and per API key' },
    });
  }
}
