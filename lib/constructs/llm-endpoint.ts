import { CfnParameter, Duration, Stack, Token } from 'aws-cdk-lib';
import { dashboardName } from '../config/naming';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { MODEL_PACKAGE_ARN_AFTER_PARTITION, ServingConfig, ServingVariantConfig } from '../config/environment-config';
import { partitionOf } from '../config/regions';
import { acknowledgeRuleInPacks, REGULATORY_PACKS } from './compliance';

/** Instance families with local NVMe storage: SageMaker rejects a volume KMS key for them (the disks are hardware-encrypted). */
const INSTANCE_STORE_FAMILY = /^ml\.((g5|g6|g6e|p5|p5e|p5en|trn1|trn1n)|[a-z]+\d+[a-z]*d[n]?)\./;

/** Whether SageMaker refuses a volume KMS key for this instance type (local NVMe instance storage). */
export function hasInstanceStorage(instanceType: string): boolean {
  return INSTANCE_STORE_FAMILY.test(instanceType);
}

export interface EncryptedEndpointConfigProps {
  /** Everything but the volume key and data capture, which this function sets. */
  readonly props: Omit<sagemaker.CfnEndpointConfigProps, 'kmsKeyId' | 'dataCaptureConfig'>;
  /** Instance types of the configuration's variants. */
  readonly instanceTypes: readonly string[];
  readonly key: kms.IKey;
  /** Share of requests captured (0: none). */
  readonly dataCapturePercent: number;
  readonly dataCaptureUri: string;
}

/**
 * An endpoint configuration encrypted with `key`: captured input and output always; the ML storage
 * volumes too, unless a variant's instance type has local NVMe storage, for which SageMaker rejects a volume
 * key (those disks are hardware-encrypted; the regulatory packs' finding is acknowledged with that reason).
 */
export function encryptedEndpointConfig(scope: Construct, id: string, p: EncryptedEndpointConfigProps): sagemaker.CfnEndpointConfig {
  const volumeKeyAllowed = !p.instanceTypes.some(hasInstanceStorage);
  const config = new sagemaker.CfnEndpointConfig(scope, id, {
    ...p.props,
    kmsKeyId: volumeKeyAllowed ? p.key.keyArn : undefined,
    dataCaptureConfig:
      p.dataCapturePercent > 0
        ? {
            enableCapture: true,
            initialSamplingPercentage: p.dataCapturePercent,
            destinationS3Uri: p.dataCaptureUri,
            kmsKeyId: p.key.keyArn,
            captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
            captureContentTypeHeader: { jsonContentTypes: ['application/json'] },
          }
        : undefined,
  });
  if (!volumeKeyAllowed) {
    acknowledgeRuleInPacks(
      config,
      'SageMakerEndpointConfigurationKMSKeyConfigured',
      `The variants use instance types with local NVMe storage (${p.instanceTypes.join(', ')}), for which SageMaker rejects a volume KMS key; those disks are encrypted by the instance hardware, and captured data is still encrypted with the data key`,
      REGULATORY_PACKS,
    );
  }
  return config;
}

export interface RollbackAlarmsProps {
  /** Part of the alarms' construct IDs. */
  readonly name: string;
  /** What is measured, in the alarm description (`variant current`). */
  readonly what: string;
  /** Alarm names are `<prefix>-error-rate` and `<prefix>-p99-latency`. */
  readonly alarmNamePrefix: string;
  /** AWS/SageMaker metric dimensions of a variant or an inference component. */
  readonly dimensions: Record<string, string>;
  readonly rollout: ServingConfig['rollout'];
  /** Receives the alarms' notifications. */
  readonly topic: sns.ITopic;
}

/**
 * The two alarms that roll a deployment back: 5xx error rate above `rollout.maxErrorRatePercent` and p99
 * model latency above `rollout.maxP99LatencyMs`, each over 2 of 3 one-minute periods, notifying `topic`.
 */
export function rollbackAlarms(scope: Construct, p: RollbackAlarmsProps): cloudwatch.Alarm[] {
  const metric = (metricName: string, statistic: string) =>
    new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName, statistic, period: Duration.minutes(1), dimensionsMap: p.dimensions });
  const errorRate = new cloudwatch.MathExpression({
    expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
    usingMetrics: { errors: metric('Invocation5XXErrors', 'Sum'), invocations: metric('Invocations', 'Sum') },
    period: Duration.minutes(1),
    label: `${p.name} 5xx error rate (%)`,
  });
  const r = p.rollout;
  const alarms = [
    errorRate.createAlarm(scope, `ErrorRate-${p.name}`, {
      alarmName: `${p.alarmNamePrefix}-error-rate`,
      alarmDescription: `5xx errors above ${r.maxErrorRatePercent} % of invocations on ${p.what}; rolls a deployment back`,
      threshold: r.maxErrorRatePercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    // ModelLatency is reported in microseconds.
    metric('ModelLatency', 'p99').createAlarm(scope, `Latency-${p.name}`, {
      alarmName: `${p.alarmNamePrefix}-p99-latency`,
      alarmDescription: `p99 model latency above ${r.maxP99LatencyMs} ms on ${p.what}; rolls a deployment back`,
      threshold: r.maxP99LatencyMs * 1000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  ];
  for (const a of alarms) a.addAlarmAction(new actions.SnsAction(p.topic));
  return alarms;
}

/**
 * Logical id of the CloudFormation parameter that holds a variant's model package ARN: `ModelPackage` and the
 * variant name without its non-alphanumerics, each part's first letter upper-cased (`blue-2` -> `ModelPackageBlue2`).
 * The promotion workflow finds it through the `ServedVariants` output; changing the rule renames deployed parameters.
 */
export function variantParameterName(variant: string): string {
  const parts = variant.split(/[^a-zA-Z0-9]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new Error(`variant: got ${JSON.stringify(variant)}; allowed: a name with at least one letter or digit`);
  return `ModelPackage${parts.map((p) => p[0].toUpperCase() + p.slice(1)).join('')}`;
}

/** Each group of variants whose names give the same parameter id (`blue-2` and `blue2`), as one problem. */
export function variantParameterCollisions(variants: readonly string[]): string[] {
  const byParameter = new Map<string, string[]>();
  for (const v of variants) {
    const name = variantParameterName(v);
    byParameter.set(name, [...(byParameter.get(name) ?? []), v]);
  }
  return [...byParameter]
    .filter(([, names]) => names.length > 1)
    .map(([parameter, names]) => `serving.variants: ${names.map((n) => JSON.stringify(n)).join(' and ')} map to the same parameter ${parameter}; allowed: names that differ in more than hyphens and the case of each part's first letter`);
}

/**
 * AllowedPattern of a variant's model package parameter: a versioned model package ARN, as the config's
 * MODEL_PACKAGE_ARN, of the stack's partition (of any `aws*` partition when the region is not known at synth).
 */
export function modelPackageArnPattern(stack: Stack): string {
  const partition = Token.isUnresolved(stack.region) ? undefined : partitionOf(stack.region);
  return `^arn:${partition ?? 'aws[a-z-]*'}:${MODEL_PACKAGE_ARN_AFTER_PARTITION}`;
}

/** A variant as the promotion workflow sees it (the endpoints stack's `ServedVariants` output). */
export interface ServedVariant {
  /** Production variant name. */
  readonly variant: string;
  /** Logical id of the CloudFormation parameter holding the variant's model package ARN. */
  readonly parameter: string;
  /** The variant's configured initial weight. */
  readonly weight: number;
}

export interface LlmEndpointProps {
  readonly endpointName: string;
  readonly serving: ServingConfig;
  /** Serving container image (LMI or TGI) and its environment (batching). */
  readonly image: { readonly uri: string; readonly environment: Record<string, string> };
  /** The endpoint's execution role (reads model data, writes data capture, places ENIs). */
  readonly executionRole: iam.IRole;
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
  /** Encrypts captured data and, where the instance type allows it, the ML storage volumes. */
  readonly key: kms.IKey;
  /** `s3://.../data-capture/` */
  readonly dataCaptureUri: string;
  readonly topic: sns.ITopic;
}

/**
 * A real-time endpoint serving registered model versions as production variants (A/B by weight): one
 * network-isolated model per variant in the private subnets, whose model package ARN is a stack parameter
 * (`variantParameterName`, default: the config's ARN) that the promotion workflow updates, data capture to
 * S3 with KMS, target-tracking auto scaling per variant, and blue/green rollout of every configuration change (canary or linear) that
 * rolls back by itself when a variant's error-rate or p99-latency alarm fires. A dashboard shows
 * invocations, errors and model/overhead latency percentiles per variant.
 */
export class LlmEndpoint extends Construct {
  readonly endpoint: sagemaker.CfnEndpoint;
  readonly endpointConfig: sagemaker.CfnEndpointConfig;
  readonly alarms: cloudwatch.IAlarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  /** Each variant's model package parameter, by variant name. */
  readonly modelPackageParameters: Readonly<Record<string, CfnParameter>>;
  /** The variants in config order with their parameter ids and weights (what `ServedVariants` publishes). */
  readonly servedVariants: readonly ServedVariant[];

  constructor(scope: Construct, id: string, props: LlmEndpointProps) {
    super(scope, id);
    const s = props.serving;
    const pattern = modelPackageArnPattern(Stack.of(this));
    const problems: string[] = [];
    if (s.variants.length === 0) problems.push('serving.variants: got []; an endpoint needs at least one variant');
    problems.push(...variantParameterCollisions(s.variants.map((v) => v.name)));
    s.variants.forEach((v, i) => {
      if (!Token.isUnresolved(v.modelPackageArn) && !new RegExp(pattern).test(v.modelPackageArn)) {
        problems.push(`serving.variants[${i}].modelPackageArn: got "${v.modelPackageArn}"; allowed: a versioned model package ARN matching ${pattern}`);
      }
    });
    if (problems.length) throw new Error(`Invalid LlmEndpoint props:\n- ${problems.join('\n- ')}`);

    const parameters: Record<string, CfnParameter> = {};
    for (const v of s.variants) {
      const name = variantParameterName(v.name);
      // cdk deploy keeps a deployed parameter's value: aws-cdk 2.1148.1's --previous-parameters defaults to true (lib/cli/cli-config.js), and toolkit-lib's ParameterValues (lib/index.js) then sends UsePreviousValue for every parameter the stack already has, so Default applies only to a new parameter.
      const parameter = new CfnParameter(this, name, {
        type: 'String',
        default: v.modelPackageArn,
        allowedPattern: pattern,
        constraintDescription: 'a versioned model package ARN arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>',
        description: `Model package version served by the A/B variant "${v.name}"; the promotion workflow updates it (cdk deploy keeps the deployed value)`,
      });
      // A stable logical id wherever the construct sits: the promotion workflow updates the stack by this name.
      parameter.overrideLogicalId(name);
      parameters[v.name] = parameter;
    }
    this.modelPackageParameters = parameters;
    this.servedVariants = s.variants.map((v) => ({ variant: v.name, parameter: variantParameterName(v.name), weight: v.initialWeight }));

    const models = s.variants.map(
      (v) =>
        new sagemaker.CfnModel(this, `Model-${v.name}`, {
          executionRoleArn: props.executionRole.roleArn,
          containers: [{ modelPackageName: parameters[v.name].valueAsString, environment: props.image.environment }],
          enableNetworkIsolation: true,
          vpcConfig: { subnets: props.subnetIds, securityGroupIds: props.securityGroupIds },
        }),
    );
    this.endpointConfig = encryptedEndpointConfig(this, 'Config', {
      props: {
        productionVariants: s.variants.map((v, i) => ({
          variantName: v.name,
          modelName: models[i].attrModelName,
          instanceType: v.instanceType,
          initialInstanceCount: v.minInstances,
          initialVariantWeight: v.initialWeight,
        })),
      },
      instanceTypes: s.variants.map((v) => v.instanceType),
      key: props.key,
      dataCapturePercent: s.dataCapturePercent,
      dataCaptureUri: props.dataCaptureUri,
    });

    for (const v of s.variants) this.alarms.push(...this.variantAlarms(props, v));
    const r = s.rollout;
    const step = { type: 'CAPACITY_PERCENT', value: r.stepPercent };
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointName: props.endpointName,
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
      deploymentConfig: {
        blueGreenUpdatePolicy: {
          trafficRoutingConfiguration: {
            type: r.mode === 'canary' ? 'CANARY' : 'LINEAR',
            waitIntervalInSeconds: r.waitMinutes * 60,
            ...(r.mode === 'canary' ? { canarySize: step } : { linearStepSize: step }),
          },
          terminationWaitInSeconds: r.terminationWaitMinutes * 60,
        },
        autoRollbackConfiguration: { alarms: this.alarms.map((a) => ({ alarmName: a.alarmName })) },
      },
    });

    for (const v of s.variants) this.addScaling(props, v);
    this.dashboard = this.buildDashboard(props);
  }

  private metric(props: LlmEndpointProps, variant: string, metricName: string, statistic: string, namespace = 'AWS/SageMaker'): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace,
      metricName,
      statistic,
      period: Duration.minutes(1),
      dimensionsMap: { EndpointName: props.endpointName, VariantName: variant },
    });
  }

  private variantAlarms(props: LlmEndpointProps, v: ServingVariantConfig): cloudwatch.Alarm[] {
    return rollbackAlarms(this, {
      name: v.name,
      what: `variant ${v.name}`,
      alarmNamePrefix: `${props.endpointName}-${v.name}`,
      dimensions: { EndpointName: props.endpointName, VariantName: v.name },
      rollout: props.serving.rollout,
      topic: props.topic,
    });
  }

  private addScaling(props: LlmEndpointProps, v: ServingVariantConfig): void {
    const s = props.serving;
    const target = new appscaling.ScalableTarget(this, `Scaling-${v.name}`, {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `endpoint/${props.endpointName}/variant/${v.name}`,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      minCapacity: v.minInstances,
      maxCapacity: v.maxInstances,
      // The service-linked role of SageMaker endpoint scaling; no role of ours is needed.
      role: iam.Role.fromRoleArn(
        this,
        `ScalingRole-${v.name}`,
        Stack.of(this).formatArn({
          service: 'iam',
          region: '',
          resource: 'role',
          resourceName: 'aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint',
        }),
      ),
    });
    target.node.addDependency(this.endpoint);
    target.scaleToTrackMetric(`Invocations-${v.name}`, {
      predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
      targetValue: s.targetInvocationsPerInstance,
      scaleInCooldown: Duration.seconds(s.scaleInCooldownSeconds),
      scaleOutCooldown: Duration.seconds(s.scaleOutCooldownSeconds),
    });
  }

  private buildDashboard(props: LlmEndpointProps): cloudwatch.Dashboard {
    const variants = props.serving.variants.map((v) => v.name);
    const per = (metricName: string, statistic: string) => variants.map((v) => this.metric(props, v, metricName, statistic).with({ label: `${v} ${statistic}` }));
    const percentiles = (metricName: string) => ['p50', 'p90', 'p99'].flatMap((p) => per(metricName, p));
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: dashboardName(props.endpointName, Stack.of(this).region) });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Invocations per variant', left: per('Invocations', 'Sum'), width: 12 }),
      new cloudwatch.GraphWidget({ title: '4xx / 5xx errors per variant', left: per('Invocation4XXErrors', 'Sum'), right: per('Invocation5XXErrors', 'Sum'), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Model latency (µs) p50 / p90 / p99', left: percentiles('ModelLatency'), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Overhead latency (µs) p50 / p90 / p99', left: percentiles('OverheadLatency'), width: 12 }),
      new cloudwatch.AlarmStatusWidget({ title: 'Rollback alarms', alarms: this.alarms, width: 24 }),
    );
    return dashboard;
  }
}
