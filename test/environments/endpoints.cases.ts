import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { batchingEnvironment } from '../../lib/config/serving-images';
import { Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ServingVariantConfig } from '../../lib/config/environment-config';
import { hasInstanceStorage, LlmEndpoint, modelPackageArnPattern, variantParameterCollisions, variantParameterName } from '../../lib/constructs/llm-endpoint';
import { configWith, normalizedTemplate, synthesizeEnvironment } from '../support/app';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const prodConfig = loadEnvironmentConfig('prod', FIXTURE);
const prod = synthesizeEnvironment(prodConfig);
const tpl = Template.fromStack(prod.platform.endpoints!);
const variants = prodConfig.serving.variants;
/** An LlmEndpoint outside any environment, with these variants (the fixture's settings otherwise). */
const bareEndpoint = (variants: ServingVariantConfig[], stack = new Stack()) =>
  new LlmEndpoint(stack, 'E', {
    endpointName: 'e',
    serving: { ...prodConfig.serving, variants },
    image: { uri: 'i', environment: {} },
    executionRole: { roleArn: 'arn:aws:iam::111122223333:role/r' } as any,
    subnetIds: [],
    securityGroupIds: [],
    key: new kms.Key(stack, 'Key'),
    dataCaptureUri: 's3://b/',
    topic: { topicArn: 'arn:aws:sns:us-east-1:111122223333:t' } as any,
  });
const abConfig = () =>
  Object.entries(tpl.findResources('AWS::SageMaker::EndpointConfig')).find(([id]) => id.startsWith('EndpointConfig'))![1] as any;

describe('endpoints stack', () => {
  test('exists only once a version is served: the first deploy works with an empty registry', () => {
    expect(synthesizeEnvironment(ENVIRONMENTS.dev).platform.endpoints).toBeUndefined();
    expect(prod.raw['fmft-prod-endpoints']).toBeDefined();
  });

  test('one network-isolated model per variant, from its model package parameter, in the inference subnets', () => {
    const abModels = Object.keys(tpl.findResources('AWS::SageMaker::Model')).filter((id) => id.startsWith('EndpointModel'));
    expect(abModels).toHaveLength(variants.length);
    for (const v of variants) {
      tpl.hasResourceProperties('AWS::SageMaker::Model', {
        EnableNetworkIsolation: true,
        Containers: [{ ModelPackageName: { Ref: variantParameterName(v.name) }, Environment: batchingEnvironment('lmi', prodConfig.serving.batching) }],
        VpcConfig: { Subnets: Match.anyValue(), SecurityGroupIds: [Match.anyValue()] },
        ExecutionRoleArn: Match.anyValue(),
      });
    }
  });

  test('the model package ARN of each variant is a parameter named after it, defaulting to the version in the config', () => {
    const parameters = tpl.toJSON().Parameters;
    expect(Object.keys(parameters).filter((id) => id.startsWith('ModelPackage'))).toEqual(['ModelPackageCurrent', 'ModelPackageCandidate']);
    for (const v of variants) {
      const parameter = parameters[variantParameterName(v.name)];
      expect(parameter).toEqual({
        Type: 'String',
        Default: v.modelPackageArn,
        AllowedPattern: '^arn:aws:sagemaker:[a-z0-9-]+:\\d{12}:model-package/[a-zA-Z0-9-]{1,63}/\\d+$',
        ConstraintDescription: expect.stringContaining('versioned model package ARN'),
        Description: expect.stringContaining(`the A/B variant "${v.name}"; the promotion workflow updates it`),
      });
      // CloudFormation refuses a stack whose default breaks the parameter's own pattern.
      expect(v.modelPackageArn).toMatch(new RegExp(parameter.AllowedPattern));
    }
    // Each model reads its own variant's parameter, not its neighbour's.
    const models = tpl.toJSON().Resources;
    for (const v of variants) {
      const model = Object.entries(models).find(([id]) => id.startsWith(`EndpointModel${v.name}`))![1] as any;
      expect(model.Properties.Containers[0].ModelPackageName).toEqual({ Ref: variantParameterName(v.name) });
    }
  });

  test('the pattern takes versioned model package ARNs of the stack partition only', () => {
    const pattern = new RegExp(tpl.toJSON().Parameters.ModelPackageCurrent.AllowedPattern);
    expect(pattern.test('arn:aws:sagemaker:eu-west-1:444455556666:model-package/other-group/12')).toBe(true);
    for (const wrong of [
      'arn:aws-cn:sagemaker:cn-north-1:111122223333:model-package/fmft-prod-fine-tuning-models/3',
      'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-prod-fine-tuning-models',
      'arn:aws:sagemaker:us-east-1:111122223333:model-package-group/fmft-prod-fine-tuning-models',
      'arn:aws:sagemaker:us-east-1:11112222333:model-package/fmft-prod-fine-tuning-models/3',
      'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-prod-fine-tuning-models/3 ',
    ]) {
      expect(pattern.test(wrong)).toBe(false);
    }
    expect(modelPackageArnPattern(new Stack(undefined, 'Cn', { env: { region: 'cn-north-1' } }))).toMatch(/^\^arn:aws-cn:sagemaker:/);
    // Without a region at synth the partition is unknown: any aws* partition passes.
    expect(modelPackageArnPattern(new Stack())).toMatch(/^\^arn:aws\[a-z-\]\*:sagemaker:/);
  });

  test('ServedVariants lists every variant in config order with its parameter and weight, as JSON', () => {
    const output = tpl.toJSON().Outputs.ServedVariants;
    expect(typeof output.Value).toBe('string');
    expect(JSON.parse(output.Value)).toEqual(variants.map((v) => ({ variant: v.name, parameter: variantParameterName(v.name), weight: v.initialWeight })));
    expect(JSON.parse(output.Value)).toEqual([
      { variant: 'current', parameter: 'ModelPackageCurrent', weight: 90 },
      { variant: 'candidate', parameter: 'ModelPackageCandidate', weight: 10 },
    ]);
    // Every parameter it names exists in the template.
    for (const v of JSON.parse(output.Value)) expect(tpl.toJSON().Parameters[v.parameter]).toBeDefined();
  });

  test('what reads the ARN at synth (the capture monitor targets) keeps the value of the config', () => {
    expect(prod.platform.endpoints!.monitorTargets.filter((t) => t.endpointName === 'fmft-prod-llm')).toEqual(
      variants.map((v) => ({ endpointName: 'fmft-prod-llm', variantName: v.name, modelPackageArn: v.modelPackageArn })),
    );
  });

  test('parameter ids: ModelPackage and the variant name without hyphens, each part capitalized', () => {
    expect(['current', 'blue-2', 'a--b-c', 'Green', 'canaryV2'].map(variantParameterName)).toEqual([
      'ModelPackageCurrent',
      'ModelPackageBlue2',
      'ModelPackageABC',
      'ModelPackageGreen',
      'ModelPackageCanaryV2',
    ]);
    expect(() => variantParameterName('--')).toThrow('variant: got "--"; allowed: a name with at least one letter or digit');
    expect(variantParameterCollisions(['current', 'candidate', 'blue-2'])).toEqual([]);
  });

  test('two variants whose names give the same parameter id are refused, naming both', () => {
    const [current, candidate] = variants;
    expect(() => bareEndpoint([{ ...current, name: 'blue-2' }, { ...candidate, name: 'blue2' }])).toThrow(
      'serving.variants: "blue-2" and "blue2" map to the same parameter ModelPackageBlue2; allowed: names that differ in more than hyphens and the case of each part\'s first letter',
    );
    const collision = configWith(prodConfig, (c) => {
      c.serving.variants[0].name = 'Candidate';
    });
    expect(() => synthesizeEnvironment(collision)).toThrow(/"Candidate" and "candidate" map to the same parameter ModelPackageCandidate/);
  });

  test('a default ARN outside the stack partition is refused before CloudFormation would', () => {
    const stack = new Stack(undefined, 'S', { env: { region: 'us-east-1' } });
    const cn = 'arn:aws-cn:sagemaker:cn-north-1:111122223333:model-package/g/3';
    expect(() => bareEndpoint([{ ...variants[0], modelPackageArn: cn }], stack)).toThrow(`serving.variants[0].modelPackageArn: got "${cn}"; allowed: a versioned model package ARN matching ^arn:aws:sagemaker:`);
  });

  test('variants carry the configured weights, instance types and starting capacity', () => {
    const config = abConfig();
    expect(config.Properties.ProductionVariants.map((p: any) => [p.VariantName, p.InitialVariantWeight, p.InitialInstanceCount, p.InstanceType])).toEqual(
      variants.map((v) => [v.name, v.initialWeight, v.minInstances, v.instanceType]),
    );
  });

  test('data capture of input and output, encrypted with the data key, into data-capture/', () => {
    tpl.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      DataCaptureConfig: {
        EnableCapture: true,
        InitialSamplingPercentage: prodConfig.serving.dataCapturePercent,
        DestinationS3Uri: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/data-capture/$')])] }),
        KmsKeyId: Match.anyValue(),
        CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
      },
    });
  });

  test('g5 variants get no volume key (SageMaker rejects one for NVMe instance storage); others do', () => {
    expect(abConfig().Properties.KmsKeyId).toBeUndefined();
    const m5 = configWith(prodConfig, (c) => c.serving.variants.forEach((v: any) => (v.instanceType = 'ml.m5.2xlarge')));
    const other = Template.fromStack(synthesizeEnvironment(m5).platform.endpoints!);
    other.hasResourceProperties('AWS::SageMaker::EndpointConfig', { KmsKeyId: Match.anyValue() });
    expect([hasInstanceStorage('ml.g5.2xlarge'), hasInstanceStorage('ml.g4dn.xlarge'), hasInstanceStorage('ml.p4d.24xlarge'), hasInstanceStorage('ml.m5.xlarge'), hasInstanceStorage('ml.inf2.xlarge')]).toEqual([true, true, true, false, false]);
  });

  test('blue/green rollout (linear in prod) rolls back on every variant error-rate and latency alarm', () => {
    const endpoint = Object.values(tpl.findResources('AWS::SageMaker::Endpoint', { Properties: { EndpointName: 'fmft-prod-llm' } }))[0] as any;
    const r = prodConfig.serving.rollout;
    expect(endpoint.Properties.EndpointName).toBe('fmft-prod-llm');
    expect(endpoint.Properties.DeploymentConfig.BlueGreenUpdatePolicy).toEqual({
      TrafficRoutingConfiguration: { Type: 'LINEAR', WaitIntervalInSeconds: r.waitMinutes * 60, LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: r.stepPercent } },
      TerminationWaitInSeconds: r.terminationWaitMinutes * 60,
    });
    const alarms = endpoint.Properties.DeploymentConfig.AutoRollbackConfiguration.Alarms;
    expect(alarms).toHaveLength(2 * variants.length);
    const names = Object.values(tpl.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties.AlarmName);
    for (const v of variants) {
      expect(names).toEqual(expect.arrayContaining([`fmft-prod-llm-${v.name}-error-rate`, `fmft-prod-llm-${v.name}-p99-latency`]));
    }
    tpl.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fmft-prod-llm-candidate-p99-latency',
      MetricName: 'ModelLatency',
      ExtendedStatistic: 'p99',
      Threshold: r.maxP99LatencyMs * 1000,
      AlarmActions: [Match.anyValue()],
    });
    tpl.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fmft-prod-llm-current-error-rate',
      Threshold: r.maxErrorRatePercent,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)' })]),
    });
  });

  test('dev rolls out as a canary', () => {
    const dev = Template.fromStack(synthesizeEnvironment(loadEnvironmentConfig('dev', FIXTURE)).platform.endpoints!);
    dev.hasResourceProperties('AWS::SageMaker::Endpoint', {
      EndpointName: 'fmft-dev-llm',
      DeploymentConfig: { BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: ENVIRONMENTS.dev.serving.rollout.stepPercent } } } },
    });
  });

  test('each variant scales between its bounds on invocations per instance, with the configured cooldowns', () => {
    const s = prodConfig.serving;
    for (const v of variants) {
      tpl.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        ResourceId: `endpoint/fmft-prod-llm/variant/${v.name}`,
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        MinCapacity: v.minInstances,
        MaxCapacity: v.maxInstances,
      });
    }
    tpl.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', variants.length);
    tpl.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        TargetValue: s.targetInvocationsPerInstance,
        ScaleInCooldown: s.scaleInCooldownSeconds,
        ScaleOutCooldown: s.scaleOutCooldownSeconds,
      },
    });
    // Scaling needs the endpoint's variants to exist.
    const endpointId = Object.keys(tpl.findResources('AWS::SageMaker::Endpoint', { Properties: { EndpointName: 'fmft-prod-llm' } }))[0];
    for (const t of Object.values(tpl.findResources('AWS::ApplicationAutoScaling::ScalableTarget')) as any[]) {
      expect(t.DependsOn).toEqual(expect.arrayContaining([endpointId]));
    }
  });

  test('a dashboard per endpoint with invocations, errors, and model and overhead latency percentiles', () => {
    for (const name of ['fmft-prod-llm', 'fmft-prod-llm-shared']) {
      // Dashboards are account-wide: their names carry the region.
      const dashboard = Object.values(tpl.findResources('AWS::CloudWatch::Dashboard', { Properties: { DashboardName: `${name}-us-east-1` } }))[0] as any;
      const body = JSON.stringify(dashboard.Properties.DashboardBody);
      for (const text of ['Invocations', 'Invocation5XXErrors', 'Invocation4XXErrors', 'ModelLatency', 'OverheadLatency', 'p50', 'p90', 'p99']) {
        expect(body).toContain(text);
      }
    }
  });

  test('the shared endpoint hosts one inference component per model, with its copies and compute share', () => {
    const shared = prodConfig.serving.sharedEndpoint!;
    tpl.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      EnableNetworkIsolation: true,
      ExecutionRoleArn: Match.anyValue(),
      VpcConfig: { Subnets: Match.anyValue(), SecurityGroupIds: [Match.anyValue()] },
      ProductionVariants: [
        Match.objectLike({
          VariantName: 'AllTraffic',
          InstanceType: shared.instanceType,
          ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: shared.minInstances, MaxInstanceCount: shared.maxInstances },
          RoutingConfig: { RoutingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
        }),
      ],
      DataCaptureConfig: Match.objectLike({ EnableCapture: true, KmsKeyId: Match.anyValue() }),
    });
    tpl.resourceCountIs('AWS::SageMaker::InferenceComponent', shared.components.length);
    for (const c of shared.components) {
      tpl.hasResourceProperties('AWS::SageMaker::InferenceComponent', {
        InferenceComponentName: `fmft-prod-llm-shared-${c.name}`,
        VariantName: 'AllTraffic',
        Specification: {
          ModelName: Match.anyValue(),
          ComputeResourceRequirements: { NumberOfAcceleratorDevicesRequired: c.acceleratorsPerCopy, MinMemoryRequiredInMb: c.memoryMiB },
        },
        RuntimeConfig: { CopyCount: c.copies },
      });
      tpl.hasResourceProperties('AWS::SageMaker::Model', { EnableNetworkIsolation: true, Containers: [Match.objectLike({ ModelPackageName: c.modelPackageArn })] });
    }
  });

  test('each inference component rolls out copy by copy and rolls back on its own error-rate or latency alarm', () => {
    const shared = prodConfig.serving.sharedEndpoint!;
    const r = prodConfig.serving.rollout;
    for (const c of shared.components) {
      const name = `fmft-prod-llm-shared-${c.name}`;
      const component = Object.values(tpl.findResources('AWS::SageMaker::InferenceComponent', { Properties: { InferenceComponentName: name } }))[0] as any;
      expect(component.Properties.DeploymentConfig.RollingUpdatePolicy).toEqual({
        MaximumBatchSize: { Type: 'COPY_COUNT', Value: 1 },
        RollbackMaximumBatchSize: { Type: 'COPY_COUNT', Value: 1 },
        WaitIntervalInSeconds: r.waitMinutes * 60,
      });
      // The alarms are referenced (Ref gives an alarm's name), so they exist before the component.
      const alarmNames = component.Properties.DeploymentConfig.AutoRollbackConfiguration.Alarms.map(
        (a: any) => tpl.toJSON().Resources[a.AlarmName.Ref].Properties.AlarmName,
      );
      expect(alarmNames).toEqual([`${name}-error-rate`, `${name}-p99-latency`]);
      tpl.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `${name}-p99-latency`,
        Dimensions: [{ Name: 'InferenceComponentName', Value: name }],
        Threshold: r.maxP99LatencyMs * 1000,
        AlarmActions: [Match.anyValue()],
      });
      tpl.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `${name}-error-rate`,
        Metrics: Match.arrayWith([Match.objectLike({ MetricStat: Match.objectLike({ Metric: Match.objectLike({ Dimensions: [{ Name: 'InferenceComponentName', Value: name }] }) }) })]),
      });
    }
  });

  test('an LlmEndpoint without variants is refused', () => {
    expect(() => bareEndpoint([])).toThrow('serving.variants: got []; an endpoint needs at least one variant');
  });

  test('the parameters keep their ids wherever the endpoint sits, for the promotion workflow to update them by name', () => {
    const endpoint = bareEndpoint(variants);
    const template = Template.fromStack(Stack.of(endpoint)).toJSON();
    expect(Object.keys(template.Parameters).filter((id) => id.startsWith('ModelPackage'))).toEqual(['ModelPackageCurrent', 'ModelPackageCandidate']);
    expect(endpoint.servedVariants).toEqual([
      { variant: 'current', parameter: 'ModelPackageCurrent', weight: 90 },
      { variant: 'candidate', parameter: 'ModelPackageCandidate', weight: 10 },
    ]);
    expect(Object.keys(endpoint.modelPackageParameters)).toEqual(['current', 'candidate']);
  });

  test('TGI gets its own batching variables', () => {
    expect(batchingEnvironment('tgi', { maxConcurrentRequests: 8, maxTotalTokens: 4096 })).toEqual({ MAX_CONCURRENT_REQUESTS: '8', MAX_TOTAL_TOKENS: '4096' });
  });

  test('snapshot', () => {
    expect(normalizedTemplate(tpl)).toMatchSnapshot();
  });
});
