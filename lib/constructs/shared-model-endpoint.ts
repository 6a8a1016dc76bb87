import { Duration, Stack } from 'aws-cdk-lib';
import { dashboardName } from '../config/naming';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ServingConfig } from '../config/environment-config';
import { encryptedEndpointConfig, rollbackAlarms } from './llm-endpoint';

/** The one production variant of the shared endpoint; its inference components share it. */
export const SHARED_ENDPOINT_VARIANT = 'AllTraffic';

/** The name of a model's inference component on the shared endpoint (what InvokeEndpoint's InferenceComponentName takes). */
export function inferenceComponentName(endpointName: string, component: string): string {
  return `${endpointName}-${component}`;
}

export interface SharedModelEndpointProps {
  readonly endpointName: string;
  readonly shared: NonNullable<ServingConfig['sharedEndpoint']>;
  readonly dataCapturePercent: number;
  /** Container environment of every model (continuous batching). */
  readonly environment: Record<string, string>;
  readonly executionRole: iam.IRole;
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
  readonly key: kms.IKey;
  readonly dataCaptureUri: string;
  /** Each component's change rolls out copy by copy and rolls back when one of its alarms fires. */
  readonly rollout: ServingConfig['rollout'];
  /** Receives the rollback alarms' notifications. */
  readonly topic: sns.ITopic;
}

/**
 * Several registered models on one endpoint, as inference components: each component holds its own copies
 * with the accelerators and memory it needs, is invoked by name (InvokeEndpoint InferenceComponentName),
 * and SageMaker packs the copies onto the instances, scaling the instance count between the bounds
 * (managed instance scaling). Network isolation and the VPC sit on the endpoint configuration.
 */
export class SharedModelEndpoint extends Construct {
  readonly endpoint: sagemaker.CfnEndpoint;
  readonly components: sagemaker.CfnInferenceComponent[];
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: SharedModelEndpointProps) {
    super(scope, id);
    const sh = props.shared;
    const variantName = SHARED_ENDPOINT_VARIANT;
    const config = encryptedEndpointConfig(this, 'Config', {
      props: {
        executionRoleArn: props.executionRole.roleArn,
        enableNetworkIsolation: true,
        vpcConfig: { subnets: props.subnetIds, securityGroupIds: props.securityGroupIds },
        productionVariants: [
          {
            variantName,
            instanceType: sh.instanceType,
            initialInstanceCount: sh.minInstances,
            managedInstanceScaling: { status: 'ENABLED', minInstanceCount: sh.minInstances, maxInstanceCount: sh.maxInstances },
            routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
          },
        ],
      },
      instanceTypes: [sh.instanceType],
      key: props.key,
      dataCapturePercent: props.dataCapturePercent,
      dataCaptureUri: props.dataCaptureUri,
    });
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', { endpointName: props.endpointName, endpointConfigName: config.attrEndpointConfigName });

    this.components = sh.components.map((c) => {
      const model = new sagemaker.CfnModel(this, `Model-${c.name}`, {
        executionRoleArn: props.executionRole.roleArn,
        containers: [{ modelPackageName: c.modelPackageArn, environment: props.environment }],
        enableNetworkIsolation: true,
        vpcConfig: { subnets: props.subnetIds, securityGroupIds: props.securityGroupIds },
      });
      const componentName = inferenceComponentName(props.endpointName, c.name);
      const alarms = rollbackAlarms(this, {
        name: c.name,
        what: `inference component ${componentName}`,
        alarmNamePrefix: componentName,
        dimensions: { InferenceComponentName: componentName },
        rollout: props.rollout,
        topic: props.topic,
      });
      this.alarms.push(...alarms);
      const component = new sagemaker.CfnInferenceComponent(this, `Component-${c.name}`, {
        inferenceComponentName: componentName,
        endpointName: this.endpoint.attrEndpointName,
        variantName,
        specification: {
          modelName: model.attrModelName,
          computeResourceRequirements: { numberOfAcceleratorDevicesRequired: c.acceleratorsPerCopy, minMemoryRequiredInMb: c.memoryMiB },
        },
        runtimeConfig: { copyCount: c.copies },
        // A changed model or size replaces one copy at a time, waits, and reverts the copies it changed when
        // the component's error-rate or latency alarm fires (as variants roll back under blue/green).
        deploymentConfig: {
          rollingUpdatePolicy: {
            maximumBatchSize: { type: 'COPY_COUNT', value: 1 },
            rollbackMaximumBatchSize: { type: 'COPY_COUNT', value: 1 },
            waitIntervalInSeconds: props.rollout.waitMinutes * 60,
          },
          autoRollbackConfiguration: { alarms: alarms.map((a) => ({ alarmName: a.alarmName })) },
        },
      });
      return component;
    });

    const metric = (component: string, metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/SageMaker',
        metricName,
        statistic,
        period: Duration.minutes(1),
        dimensionsMap: { InferenceComponentName: inferenceComponentName(props.endpointName, component) },
        label: `${component} ${statistic}`,
      });
    const per = (metricName: string, statistic: string) => sh.components.map((c) => metric(c.name, metricName, statistic));
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: dashboardName(props.endpointName, Stack.of(this).region) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Invocations per model', left: per('Invocations', 'Sum'), width: 12 }),
      new cloudwatch.GraphWidget({ title: '4xx / 5xx errors per model', left: per('Invocation4XXErrors', 'Sum'), right: per('Invocation5XXErrors', 'Sum'), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Model latency (µs) p50 / p90 / p99', left: ['p50', 'p90', 'p99'].flatMap((p) => per('ModelLatency', p)), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Overhead latency (µs) p50 / p90 / p99', left: ['p50', 'p90', 'p99'].flatMap((p) => per('OverheadLatency', p)), width: 12 }),
    );
  }
}
