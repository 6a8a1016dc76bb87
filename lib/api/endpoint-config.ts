import { DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';

/**
 * The endpoint config an A/B endpoint runs now, from SageMaker's control plane (DescribeEndpoint), which the
 * answer cache's key includes. Loaded only when the API has a cache and a request for such an endpoint looks
 * it up (lazily, like the model backends and cache-dynamodb.ts), so the client is not evaluated otherwise.
 *
 * Why the name: a promotion or a rollback changes the endpoint's variants through the endpoints stack's
 * parameter, without a deployment of the API stack, so the configured versions in SERVED_MODELS stay as they
 * were. Every CloudFormation update of the variants deploys a new AWS::SageMaker::EndpointConfig (a change of
 * its variants replaces it) with a new generated name, so the live name changes with what the endpoint serves.
 * While an update is in progress, the pending config's name is part of it too: traffic may reach either
 * config then, and answers of that time are kept apart from both.
 */
export function endpointConfigLookup(region: string, client?: SageMakerClient): (endpointName: string) => Promise<string> {
  // One attempt and one retry, short timeouts: the handler waits at most CACHE_TIMEOUT_MS for it anyway.
  const sagemaker = client ?? new SageMakerClient({ region, maxAttempts: 2, requestHandler: { requestTimeout: 1000, connectionTimeout: 1000 } });
  return async (endpointName) => {
    const out = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
    const current = out?.EndpointConfigName;
    if (!current) throw new Error(`DescribeEndpoint of ${endpointName} answered no EndpointConfigName`);
    const pending = out.PendingDeploymentSummary?.EndpointConfigName;
    // Endpoint config names are letters, digits and hyphens: ' -> ' cannot be part of one.
    return pending && pending !== current ? `${current} -> ${pending}` : current;
  };
}
