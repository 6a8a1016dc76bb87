import { CloudWatchClient, PutMetricAlarmCommand, PutMetricDataCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { abResult, checkShiftPlan, describeVariants, promote, rollback, setWeights, shiftTraffic } from '../../lib/operations/endpoint-operations';
import { MotoServer, motoClientConfig, startMoto } from '../support/moto';

// UpdateEndpointWeightsAndCapacities, DescribeEndpoint, DescribeAlarms, PutMetricData and GetMetricData
// run against a moto server on loopback.

let moto: MotoServer;
let sm: SageMakerClient;
let cw: CloudWatchClient;
const noWait = async () => undefined;

beforeAll(async () => {
  moto = await startMoto();
  sm = new SageMakerClient(motoClientConfig(moto.endpoint));
  cw = new CloudWatchClient(motoClientConfig(moto.endpoint));
}, 60_000);

afterAll(async () => {
  sm?.destroy();
  cw?.destroy();
  await moto?.stop();
});

let counter = 0;
/** A fresh endpoint with two variants, weights current=90 and candidate=10. */
async function endpoint(): Promise<string> {
  const name = `llm-${++counter}`;
  const role = 'arn:aws:iam::123456789012:role/endpoint';
  for (const variant of ['current', 'candidate']) {
    await sm.send(new CreateModelCommand({ ModelName: `${name}-${variant}`, ExecutionRoleArn: role, PrimaryContainer: { Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/lmi:1' } }));
  }
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: `${name}-config`,
      ProductionVariants: [
        { VariantName: 'current', ModelName: `${name}-current`, InstanceType: 'ml.g4dn.xlarge', InitialInstanceCount: 2, InitialVariantWeight: 90 },
        { VariantName: 'candidate', ModelName: `${name}-candidate`, InstanceType: 'ml.g4dn.xlarge', InitialInstanceCount: 2, InitialVariantWeight: 10 },
      ],
    }),
  );
  await sm.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: `${name}-config` }));
  return name;
}

async function alarm(name: string, state: 'OK' | 'ALARM'): Promise<string> {
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'AWS/SageMaker',
      MetricName: 'Invocation5XXErrors',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: 'test' }));
  return name;
}

const weights = async (name: string) => Object.fromEntries((await describeVariants(sm, name)).map((v) => [v.name, v.weight]));

describe('traffic operations against moto', () => {
  test('a shift moves the traffic in equal steps while the alarms stay quiet', async () => {
    const name = await endpoint();
    const quiet = await alarm(`${name}-errors`, 'OK');
    const result = await shiftTraffic(sm, cw, { endpointName: name, from: 'current', to: 'candidate', steps: 3, intervalSeconds: 0, alarmNames: [quiet] }, noWait);
    expect(result.outcome).toBe('completed');
    expect(result.applied).toEqual([
      { current: 60, candidate: 40 },
      { current: 30, candidate: 70 },
      { current: 0, candidate: 100 },
    ]);
    expect(await weights(name)).toEqual({ current: 0, candidate: 100 });
  });

  test('a firing alarm stops the shift and restores the weights from before it', async () => {
    const name = await endpoint();
    const errors = await alarm(`${name}-errors`, 'OK');
    let steps = 0;
    // The alarm fires while the second step bakes.
    const bake = async () => {
      if (++steps === 2) await cw.send(new SetAlarmStateCommand({ AlarmName: errors, StateValue: 'ALARM', StateReason: 'errors' }));
    };
    const result = await shiftTraffic(sm, cw, { endpointName: name, from: 'current', to: 'candidate', steps: 4, intervalSeconds: 0, alarmNames: [errors] }, bake);
    expect(result.outcome).toBe('reverted');
    expect(result.firing).toEqual([errors]);
    expect(result.applied).toHaveLength(2);
    expect(await weights(name)).toEqual({ current: 90, candidate: 10 });
  });

  test('rollback sends all traffic to one variant in one call; promote is the same for the winner', async () => {
    const name = await endpoint();
    await shiftTraffic(sm, cw, { endpointName: name, from: 'current', to: 'candidate', steps: 1, intervalSeconds: 0, alarmNames: [] }, noWait);
    expect(await rollback(sm, name, 'current')).toEqual({ current: 1, candidate: 0 });
    expect(await weights(name)).toEqual({ current: 1, candidate: 0 });
    await promote(sm, name, 'candidate');
    expect(await weights(name)).toEqual({ current: 0, candidate: 1 });
  });

  test('an unknown variant is refused with the variants the endpoint has', async () => {
    const name = await endpoint();
    await expect(rollback(sm, name, 'blue')).rejects.toThrow(`to: got "blue"; endpoint ${name} has the variants current, candidate`);
    await expect(shiftTraffic(sm, cw, { endpointName: name, from: 'green', to: 'candidate', steps: 2, intervalSeconds: 0, alarmNames: [] }, noWait)).rejects.toThrow(
      'from: got "green"; endpoint',
    );
  });

  test('a guarding alarm that does not exist stops the shift before any weight changes', async () => {
    const name = await endpoint();
    await expect(shiftTraffic(sm, cw, { endpointName: name, from: 'current', to: 'candidate', steps: 2, intervalSeconds: 0, alarmNames: ['no-such-alarm'] }, noWait)).rejects.toThrow(
      'alarmNames: no-such-alarm not found',
    );
    expect(await weights(name)).toEqual({ current: 90, candidate: 10 });
  });

  test('a negative weight is refused before the call', async () => {
    const name = await endpoint();
    await expect(setWeights(sm, name, { current: -1 })).rejects.toThrow('weight of current: got -1; allowed: a number >= 0');
    expect(await weights(name)).toEqual({ current: 90, candidate: 10 });
  });

  test('bad plans are refused before any call', () => {
    expect(() => checkShiftPlan({ endpointName: 'e', from: 'a', to: 'a', steps: 0, intervalSeconds: -1, alarmNames: [] })).toThrow(
      /steps: got 0; allowed: a whole number from 1 to 100\n- intervalSeconds: got -1; allowed: 0 to 3600\n- to: got "a"; must differ from "from"/,
    );
  });
});

describe('A/B result from CloudWatch metrics in moto', () => {
  test('error counts and per-minute latencies of two variants give the two tests', async () => {
    const endpointName = `ab-${Date.now()}`;
    const start = new Date(Date.now() - 30 * 60_000);
    const minute = (i: number) => new Date(start.getTime() + (i + 1) * 60_000);
    const put = (variant: string, metric: string, i: number, value: number) =>
      cw.send(
        new PutMetricDataCommand({
          Namespace: 'AWS/SageMaker',
          MetricData: [{ MetricName: metric, Value: value, Timestamp: minute(i), Dimensions: [{ Name: 'EndpointName', Value: endpointName }, { Name: 'VariantName', Value: variant }] }],
        }),
      );
    // A: 1000 invocations, 30 errors; B: 1000 invocations, 50 errors, over 4 minutes (see ab-statistics tests).
    const latA = [120, 131, 118, 140];
    const latB = [138, 142, 150, 129];
    for (let i = 0; i < 4; i++) {
      await put('current', 'Invocations', i, 250);
      await put('current', 'Invocation5XXErrors', i, [7, 8, 7, 8][i]);
      await put('current', 'ModelLatency', i, latA[i] * 1000);
      await put('candidate', 'Invocations', i, 250);
      await put('candidate', 'Invocation5XXErrors', i, [12, 13, 12, 13][i]);
      await put('candidate', 'ModelLatency', i, latB[i] * 1000);
    }
    const report = await abResult(cw, { endpointName, variantA: 'current', variantB: 'candidate', start, end: new Date() });
    expect(report.errorRate).toEqual(expect.objectContaining({ nA: 1000, nB: 1000, rateA: 0.03, rateB: 0.05 }));
    expect(report.errorRate.pValue).toBeCloseTo(0.0224788734, 6);
    const latency = report.latency as any;
    expect(latency.nA).toBe(4);
    expect(latency.meanA).toBeCloseTo(127.25, 9);
    expect(latency.meanB).toBeCloseTo(139.75, 9);
    expect(latency.pValue).toBeGreaterThan(0);
  });

  test('no traffic on a variant is an error, not a p-value', async () => {
    await expect(abResult(cw, { endpointName: 'silent', variantA: 'a', variantB: 'b', start: new Date(Date.now() - 60_000), end: new Date() })).rejects.toThrow(/no invocations of a on silent/);
    await expect(abResult(cw, { endpointName: 'x', variantA: 'a', variantB: 'b', start: new Date(), end: new Date(Date.now() - 1000) })).rejects.toThrow(/end: got .*; must be after start/);
  });
});
