import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { batchingEnvironment } from '../../lib/config/serving-images';
import { hasInstanceStorage, LlmEndpoint } from '../../lib/constructs/llm-endpoint';
import { configWith, normalizedTemplate, synthesizeEnvironment } from '../support/app';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const prodConfig = loadEnvironmentConfig('prod', FIXTURE);
const prod = synthesizeEnvironment(prodConfig);
const tpl = Template.fromStack(prod.platform.endpoints!);
const variants = prodConfig.serving.variants;
const abConfig = () =>
  Object.entries(tpl.findResources('AWS::SageMaker::EndpointConfig')).find(([id]) => id.startsWith('EndpointConfig'))![1] as any;

describe('endpoints stack', () => {
  test('exists only once a version is served: the first deploy works with an empty registry', () => {
    expect(synthesizeEnvironment(ENVIRONMENTS.dev).platform.endpoints).toBeUndefined();
    expect(prod.raw['fmft-prod-endpoints']).toBeDefined();
  });

  test('one network-isolated model per variant, from its model package, in the inference subnets', () => {
    const abModels = Object.keys(tpl.findResources('AWS::SageMaker::Model')).filter((id) => id.startsWith('EndpointModel'));
    expect(abModels).toHaveLength(variants.length);
    for (const v of variants) {
      tpl.hasResourceProperties('AWS::SageMaker::Model', {
        EnableNetworkIsolation: true,
        Containers: [{ ModelPackageName: v.modelPackageArn, Environment: batchingEnvironment('lmi', prodConfig.serving.batching) }],
        VpcConfig: { Subnets: Match.anyValue(), SecurityGroupIds: [Match.anyValue()] },
        ExecutionRoleArn: Match.anyValue(),
      });
    }
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
      const dashboard = Object.values(tpl.findResources('AWS::CloudWatch::Dashboard', { Properties: { DashboardName: name } }))[0] as any;
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
    const stack = new (require('aws-cdk-lib').Stack)();
    const key = new (require('aws-cdk-lib/aws-kms').Key)(stack, 'Key');
    expect(
      () =>
        new LlmEndpoint(stack, 'E', {
          endpointName: 'e',
          serving: { ...prodConfig.serving, variants: [] },
          image: { uri: 'i', environment: {} },
          executionRole: { roleArn: 'arn:aws:iam::111122223333:role/r' } as any,
          subnetIds: [],
          securityGroupIds: [],
          key,
          dataCaptureUri: 's3://b/',
          topic: {} as any,
        }),
    ).toThrow('serving.variants: got []; an endpoint needs at least one variant');
  });

  test('TGI gets its own batching variables', () => {
    expect(batchingEnvironment('tgi', { maxConcurrentRequests: 8, maxTotalTokens: 4096 })).toEqual({ MAX_CONCURRENT_REQUESTS: '8', MAX_TOTAL_TOKENS: '4096' });
  });

  test('snapshot', () => {
    expect(normalizedTemplate(tpl)).toMatchSnapshot();
  });
});
