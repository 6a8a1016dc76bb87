import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  DescribeModelPackageCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  SageMakerClient,
  UpdateEndpointCommand,
  UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { operationEventProblems, operationsHandler, stagingEventProblems, stagingHandler } from '../../lib/operations/handlers';
import { deployToStaging, STAGING_APPROVAL_STATUSES, StagingTarget } from '../../lib/operations/staging';
import { MotoServer, motoClientConfig, startMoto } from '../support/moto';

// DescribeModelPackage, CreateModel, CreateEndpointConfig, CreateEndpoint and DescribeEndpoint run against a
// moto server on loopback; moto has no UpdateEndpoint, so the update path uses aws-sdk-client-mock.

const GROUP = 'fmft-dev-fine-tuning-models';
const target: StagingTarget = {
  endpointName: 'fmft-dev-llm-staging',
  modelPackageGroupName: GROUP,
  executionRoleArn: 'arn:aws:iam::123456789012:role/deployment',
  instanceType: 'ml.g5.xlarge',
  subnetIds: ['subnet-1', 'subnet-2'],
  securityGroupIds: ['sg-1'],
  dataCaptureUri: 's3://fmft-dev-model-artifacts/data-capture/',
  kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/abc',
  environment: { OPTION_MAX_ROLLING_BATCH_SIZE: '32' },
};

describe('staging deployment against moto', () => {
  // moto's instance-type list predates g5; the type is passed through either way.
  const motoTarget = { ...target, instanceType: 'ml.g4dn.xlarge' };
  let moto: MotoServer;
  let sm: SageMakerClient;

  beforeAll(async () => {
    moto = await startMoto();
    sm = new SageMakerClient(motoClientConfig(moto.endpoint));
    await sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: GROUP }));
  }, 60_000);

  afterAll(async () => {
    sm?.destroy();
    await moto?.stop();
  });

  async function version(status: 'Approved' | 'PendingManualApproval' | 'Rejected'): Promise<string> {
    const out = await sm.send(
      new CreateModelPackageCommand({
        ModelPackageGroupName: GROUP,
        ModelApprovalStatus: 'PendingManualApproval',
        InferenceSpecification: {
          Containers: [{ Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.36.0-lmi28.0.0-cu130', ModelDataUrl: 's3://b/models/final/model.tar.gz' }],
          SupportedContentTypes: ['application/json'],
          SupportedResponseMIMETypes: ['application/json'],
        },
      }),
    );
    if (status !== 'PendingManualApproval') await sm.send(new UpdateModelPackageCommand({ ModelPackageArn: out.ModelPackageArn!, ModelApprovalStatus: status }));
    return out.ModelPackageArn!;
  }

  test('the first approved version creates the staging endpoint from a network-isolated model', async () => {
    const arn = await version('Approved');
    const result = await deployToStaging(sm, motoTarget, arn, new Date('2026-11-25T10:00:00Z'));
    expect(result).toEqual({
      action: 'created',
      endpointName: 'fmft-dev-llm-staging',
      endpointConfigName: 'fmft-dev-llm-staging-v1-20261125100000',
      modelName: 'fmft-dev-llm-staging-v1-20261125100000',
      modelPackageArn: arn,
    });
    const model = await sm.send(new DescribeModelCommand({ ModelName: result.modelName }));
    expect(model.Containers?.[0]?.ModelPackageName).toBe(arn);
    expect(model.ExecutionRoleArn).toBe(target.executionRoleArn);
    const config = await sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: result.endpointConfigName }));
    expect(config.ProductionVariants?.[0]).toEqual(expect.objectContaining({ VariantName: 'staging', InstanceType: 'ml.g4dn.xlarge', InitialInstanceCount: 1 }));
    expect(config.DataCaptureConfig?.DestinationS3Uri).toBe(target.dataCaptureUri);
    const endpoint = await sm.send(new DescribeEndpointCommand({ EndpointName: target.endpointName }));
    expect(endpoint.EndpointConfigName).toBe(result.endpointConfigName);
  });

  test('a version awaiting approval is deployed: the promotion workflow validates it on staging before a human approves it', async () => {
    const arn = await version('PendingManualApproval');
    expect((await sm.send(new DescribeModelPackageCommand({ ModelPackageName: arn }))).ModelApprovalStatus).toBe('PendingManualApproval');
    // Another endpoint name: moto has no UpdateEndpoint, and the first test made the staging endpoint.
    const pendingTarget = { ...motoTarget, endpointName: 'fmft-dev-llm-staging-pending' };
    const result = await deployToStaging(sm, pendingTarget, arn, new Date('2026-11-25T11:00:00Z'));
    expect(result).toEqual({
      action: 'created',
      endpointName: 'fmft-dev-llm-staging-pending',
      endpointConfigName: 'fmft-dev-llm-staging-pending-v2-20261125110000',
      modelName: 'fmft-dev-llm-staging-pending-v2-20261125110000',
      modelPackageArn: arn,
    });
    expect((await sm.send(new DescribeModelCommand({ ModelName: result.modelName }))).Containers?.[0]?.ModelPackageName).toBe(arn);
    expect((await sm.send(new DescribeEndpointCommand({ EndpointName: pendingTarget.endpointName }))).EndpointConfigName).toBe(result.endpointConfigName);
  });

  test('a rejected version is refused with its status and the allowed ones, and nothing is created', async () => {
    const arn = await version('Rejected');
    const names = async () => ({
      models: (await sm.send(new ListModelsCommand({}))).Models?.map((m) => m.ModelName),
      configs: (await sm.send(new ListEndpointConfigsCommand({}))).EndpointConfigs?.map((c) => c.EndpointConfigName),
    });
    const before = await names();
    await expect(deployToStaging(sm, motoTarget, arn)).rejects.toThrow(`${arn}: approval status is Rejected; allowed for staging: PendingManualApproval, Approved`);
    expect(await names()).toEqual(before);
    expect(STAGING_APPROVAL_STATUSES).toEqual(['PendingManualApproval', 'Approved']);
  });

  test('versions of another group and unversioned ARNs are refused before any call', async () => {
    await expect(deployToStaging(sm, target, 'arn:aws:sagemaker:us-east-1:123456789012:model-package/other-group/3')).rejects.toThrow(
      'modelPackageArn: got a version of "other-group"; this stage deploys "fmft-dev-fine-tuning-models" only',
    );
    await expect(deployToStaging(sm, target, 'arn:aws:sagemaker:us-east-1:123456789012:model-package-group/g')).rejects.toThrow(/modelPackageArn: got .*; allowed:/);
  });
});

describe('staging deployment, update path (aws-sdk-client-mock)', () => {
  // Patches every SageMakerClient: created here, after the moto tests above have run.
  let sm: ReturnType<typeof mockClient>;
  const previous = process.env.FMFT_OPERATIONS_SETTINGS;
  beforeAll(() => {
    sm = mockClient(SageMakerClient);
  });
  beforeEach(() => {
    sm.reset();
    process.env.FMFT_OPERATIONS_SETTINGS = JSON.stringify({ staging: target });
  });
  afterAll(() => {
    sm.restore();
    process.env.FMFT_OPERATIONS_SETTINGS = previous;
  });
  const arn = `arn:aws:sagemaker:us-east-1:123456789012:model-package/${GROUP}/7`;

  test('the model, configuration and endpoint carry the target\u2019s cost tags; without tags none are sent', async () => {
    sm.on(DescribeModelPackageCommand).resolves({ ModelApprovalStatus: 'PendingManualApproval' });
    sm.on(DescribeEndpointCommand).rejects(Object.assign(new Error('Could not find endpoint'), { name: 'ValidationException' }));
    const tags = { 'cost-center': 'ml-platform', 'fmft:environment': 'dev', 'fmft:workflow': 'fmft-dev-promotion' };
    await deployToStaging(new SageMakerClient({}), { ...target, tags }, arn);
    const expected = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    expect(sm.commandCalls(CreateModelCommand)[0].args[0].input.Tags).toEqual(expected);
    expect(sm.commandCalls(CreateEndpointConfigCommand)[0].args[0].input.Tags).toEqual(expected);
    expect(sm.commandCalls(CreateEndpointCommand)[0].args[0].input.Tags).toEqual(expected);
    sm.resetHistory();
    await deployToStaging(new SageMakerClient({}), target, arn);
    expect(sm.commandCalls(CreateModelCommand)[0].args[0].input.Tags).toBeUndefined();
  });

  test('an existing staging endpoint is updated to the new configuration', async () => {
    sm.on(DescribeModelPackageCommand).resolves({ ModelApprovalStatus: 'Approved' });
    sm.on(DescribeEndpointCommand).resolves({ EndpointName: target.endpointName, EndpointStatus: 'InService' });
    const result = await stagingHandler({ modelPackageArn: arn });
    expect(result).toEqual(expect.objectContaining({ action: 'updated' }));
    const update = sm.commandCalls(UpdateEndpointCommand)[0].args[0].input;
    expect(update.EndpointName).toBe(target.endpointName);
    expect(update.EndpointConfigName).toMatch(/^fmft-dev-llm-staging-v7-\d{14}$/);
    expect(sm.commandCalls(CreateEndpointCommand)).toHaveLength(0);
    expect(sm.commandCalls(CreateModelCommand)[0].args[0].input).toEqual(
      expect.objectContaining({ EnableNetworkIsolation: true, VpcConfig: { Subnets: target.subnetIds, SecurityGroupIds: target.securityGroupIds } }),
    );
    expect(sm.commandCalls(CreateEndpointConfigCommand)).toHaveLength(1);
  });

  test('a failed endpoint update deletes the model and configuration it made, and reports the error', async () => {
    sm.on(DescribeModelPackageCommand).resolves({ ModelApprovalStatus: 'Approved' });
    sm.on(DescribeEndpointCommand).resolves({ EndpointName: target.endpointName, EndpointStatus: 'Updating' });
    sm.on(UpdateEndpointCommand).rejects(Object.assign(new Error('Cannot update in-progress endpoint'), { name: 'ValidationException' }));
    await expect(stagingHandler({ modelPackageArn: arn })).rejects.toThrow('Cannot update in-progress endpoint');
    const made = sm.commandCalls(CreateModelCommand)[0].args[0].input.ModelName;
    expect(sm.commandCalls(DeleteEndpointConfigCommand).map((c) => c.args[0].input.EndpointConfigName)).toEqual([made]);
    expect(sm.commandCalls(DeleteModelCommand).map((c) => c.args[0].input.ModelName)).toEqual([made]);
  });

  test('a failed configuration deletes only the model', async () => {
    sm.on(DescribeModelPackageCommand).resolves({ ModelApprovalStatus: 'Approved' });
    sm.on(CreateEndpointConfigCommand).rejects(Object.assign(new Error('quota'), { name: 'ResourceLimitExceeded' }));
    await expect(stagingHandler({ modelPackageArn: arn })).rejects.toThrow('quota');
    expect(sm.commandCalls(DeleteEndpointConfigCommand)).toHaveLength(0);
    expect(sm.commandCalls(DeleteModelCommand)).toHaveLength(1);
  });

  test('the staging handler deploys a version awaiting approval and returns the deployment', async () => {
    sm.on(DescribeModelPackageCommand).resolves({ ModelApprovalStatus: 'PendingManualApproval' });
    sm.on(DescribeEndpointCommand).rejects(Object.assign(new Error('Could not find endpoint "fmft-dev-llm-staging".'), { name: 'ValidationException' }));
    const result = await stagingHandler({ modelPackageArn: arn });
    expect(result).toEqual({
      action: 'created',
      endpointName: target.endpointName,
      endpointConfigName: expect.stringMatching(/^fmft-dev-llm-staging-v7-\d{14}$/),
      modelName: expect.stringMatching(/^fmft-dev-llm-staging-v7-\d{14}$/),
      modelPackageArn: arn,
    });
    expect(sm.commandCalls(CreateEndpointCommand)[0].args[0].input).toEqual({ EndpointName: target.endpointName, EndpointConfigName: result.endpointConfigName });
    expect(sm.commandCalls(CreateModelCommand)[0].args[0].input.Containers).toEqual([{ ModelPackageName: arn, Environment: target.environment }]);
  });

  test('the staging handler refuses a rejected version before creating anything', async () => {
    sm.on(DescribeModelPackageCommand).resolves({ ModelApprovalStatus: 'Rejected' });
    await expect(stagingHandler({ modelPackageArn: arn })).rejects.toThrow(`${arn}: approval status is Rejected; allowed for staging: PendingManualApproval, Approved`);
    sm.on(DescribeModelPackageCommand).resolves({});
    await expect(stagingHandler({ modelPackageArn: arn })).rejects.toThrow(`${arn}: approval status is missing; allowed for staging: PendingManualApproval, Approved`);
    expect(sm.commandCalls(CreateModelCommand)).toHaveLength(0);
    expect(sm.commandCalls(CreateEndpointConfigCommand)).toHaveLength(0);
  });

  test('the staging handler names every missing, mistyped and unknown field at once, before any call', async () => {
    await expect(stagingHandler({ modelPackageArm: arn } as any)).rejects.toThrow(
      'modelPackageArn: missing; staging needs modelPackageArn; modelPackageArm: not a field of staging; allowed: modelPackageArn',
    );
    await expect(stagingHandler({ modelPackageArn: 7 } as any)).rejects.toThrow('modelPackageArn: got 7; allowed: a versioned model package ARN');
    await expect(stagingHandler({ modelPackageArn: arn, detail: {} } as any)).rejects.toThrow('detail: not a field of staging; allowed: modelPackageArn');
    await expect(stagingHandler(null as any)).rejects.toThrow('event: got null; allowed: {"modelPackageArn": "<versioned model package ARN>"}');
    expect(stagingEventProblems({ modelPackageArn: arn })).toEqual([]);
    expect(sm.calls()).toHaveLength(0);
  });

  test('the staging handler needs a staging target in its settings', async () => {
    process.env.FMFT_OPERATIONS_SETTINGS = '{}';
    await expect(stagingHandler({ modelPackageArn: arn })).rejects.toThrow('FMFT_OPERATIONS_SETTINGS has no staging target');
    expect(sm.calls()).toHaveLength(0);
  });

  test('an endpoint lookup that fails for another reason is not taken for a missing endpoint', async () => {
    sm.on(DescribeModelPackageCommand).resolves({ ModelApprovalStatus: 'Approved' });
    sm.on(DescribeEndpointCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(stagingHandler({ modelPackageArn: arn })).rejects.toThrow('Rate exceeded');
    expect(sm.commandCalls(CreateEndpointCommand)).toHaveLength(0);
  });
});

describe('operations handler', () => {
  const previous = process.env.FMFT_OPERATIONS_SETTINGS;
  afterAll(() => {
    process.env.FMFT_OPERATIONS_SETTINGS = previous;
  });

  test('refuses an unknown action, a missing endpoint and shifts longer than a Lambda may run', async () => {
    process.env.FMFT_OPERATIONS_SETTINGS = JSON.stringify({ endpointName: 'fmft-dev-llm' });
    await expect(operationsHandler({ action: 'delete' } as any)).rejects.toThrow('action: got "delete"; allowed: status, rollback, promote, shift, ab');
    await expect(
      operationsHandler({ action: 'shift', from: 'a', to: 'b', steps: 10, intervalSeconds: 300, alarmNames: [] }),
    ).rejects.toThrow('steps x intervalSeconds: got 3000 s; allowed in Lambda: at most 780 s (use scripts/endpoint.ts shift for longer)');
    process.env.FMFT_OPERATIONS_SETTINGS = '{}';
    await expect(operationsHandler({ action: 'status' })).rejects.toThrow('endpointName: missing, and FMFT_OPERATIONS_SETTINGS names no endpoint');
  });

  test('names every missing and unknown field of an event at once, so a typo is never ignored', async () => {
    await expect(operationsHandler({ action: 'promote', varient: 'candidate' } as any)).rejects.toThrow(
      'variant: missing; promote needs variant; varient: not a field of promote; allowed: action, variant, endpointName',
    );
    expect(operationEventProblems({ action: 'ab', variantA: 'a', variantB: 'b', minutes: 60, alpha: 0.01 })).toEqual([]);
  });
});
