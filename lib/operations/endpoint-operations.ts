import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { DescribeEndpointCommand, SageMakerClient, UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import { MeanResult, ProportionResult, twoProportionZTest, welchTTest, summarize } from './ab-statistics';

/**
 * Operations on a live endpoint's production variants, shared by the Lambda handlers and the CLI
 * (`scripts/endpoint.ts`): read the weights, shift traffic step by step while watching alarms, promote
 * a winner, roll back in one call, and compute an A/B result with a significance test.
 */

export interface VariantState {
  readonly name: string;
  readonly weight: number;
  readonly instances: number;
}

/** The endpoint's variants with their current weights and instance counts. */
export async function describeVariants(sm: SageMakerClient, endpointName: string): Promise<VariantState[]> {
  const out = await sm.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
  return (out.ProductionVariants ?? []).map((v) => ({
    name: v.VariantName!,
    weight: v.CurrentWeight ?? v.DesiredWeight ?? 0,
    instances: v.CurrentInstanceCount ?? v.DesiredInstanceCount ?? 0,
  }));
}

function requireVariants(variants: VariantState[], endpointName: string, names: Record<string, string>): void {
  const known = variants.map((v) => v.name);
  for (const [field, name] of Object.entries(names)) {
    if (!known.includes(name)) {
      throw new Error(`${field}: got "${name}"; endpoint ${endpointName} has the variants ${known.join(', ')}`);
    }
  }
}

/** Set weights in one UpdateEndpointWeightsAndCapacities call (variants not named keep theirs). */
export async function setWeights(sm: SageMakerClient, endpointName: string, weights: Record<string, number>): Promise<void> {
  for (const [name, w] of Object.entries(weights)) {
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`weight of ${name}: got ${w}; allowed: a number >= 0`);
  }
  await sm.send(
    new UpdateEndpointWeightsAndCapacitiesCommand({
      EndpointName: endpointName,
      DesiredWeightsAndCapacities: Object.entries(weights).map(([VariantName, DesiredWeight]) => ({ VariantName, DesiredWeight })),
    }),
  );
}

/** Roll back: every request to `to`, all other variants to weight 0, in one call (no waiting, no steps). */
export async function rollback(sm: SageMakerClient, endpointName: string, to: string): Promise<Record<string, number>> {
  const variants = await describeVariants(sm, endpointName);
  requireVariants(variants, endpointName, { to });
  const weights = Object.fromEntries(variants.map((v) => [v.name, v.name === to ? 1 : 0]));
  await setWeights(sm, endpointName, weights);
  return weights;
}

/** Promote the winner of an A/B test: the same single call as a rollback, in the other direction. */
export const promote = (sm: SageMakerClient, endpointName: string, winner: string) => rollback(sm, endpointName, winner);

/** Alarms (of `names`) now in ALARM. */
export async function firingAlarms(cw: CloudWatchClient, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const out = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [...names] }));
  const alarms = [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])];
  const missing = names.filter((n) => !alarms.some((a) => a.AlarmName === n));
  // A guard that cannot be read must stop a shift, not wave it through.
  if (missing.length) throw new Error(`alarmNames: ${missing.join(', ')} not found; a shift needs every guarding alarm to exist`);
  return alarms.filter((a) => a.StateValue === 'ALARM').map((a) => a.AlarmName!);
}

export interface ShiftPlan {
  readonly endpointName: string;
  /** Variant that gives up traffic. */
  readonly from: string;
  /** Variant that receives it. */
  readonly to: string;
  /** Number of equal steps (1 moves everything at once). */
  readonly steps: number;
  /** Seconds to watch the alarms after each step. */
  readonly intervalSeconds: number;
  /** Alarms that stop the shift and restore the weights from before it. */
  readonly alarmNames: readonly string[];
}

export interface ShiftResult {
  readonly outcome: 'completed' | 'reverted';
  /** Weights after each applied step. */
  readonly applied: Array<Record<string, number>>;
  readonly firing: string[];
  readonly finalWeights: Record<string, number>;
}

/** Checks a plan before any call; each problem names the field, the value and what is allowed. */
export function checkShiftPlan(plan: ShiftPlan): void {
  const problems: string[] = [];
  if (!Number.isInteger(plan.steps) || plan.steps < 1 || plan.steps > 100) problems.push(`steps: got ${plan.steps}; allowed: a whole number from 1 to 100`);
  if (!(Number.isFinite(plan.intervalSeconds) && plan.intervalSeconds >= 0 && plan.intervalSeconds <= 3600)) {
    problems.push(`intervalSeconds: got ${plan.intervalSeconds}; allowed: 0 to 3600`);
  }
  if (plan.from === plan.to) problems.push(`to: got "${plan.to}"; must differ from "from"`);
  if (problems.length) throw new Error(`Invalid traffic shift:\n- ${problems.join('\n- ')}`);
}

/**
 * Move the traffic share of `from` to `to` in `steps` equal steps, `intervalSeconds` apart. Before each
 * step and after the last, the alarms are read; if any fires, the weights from before the shift are
 * restored in one call and the shift stops. Other variants keep their weights throughout.
 */
export async function shiftTraffic(
  sm: SageMakerClient,
  cw: CloudWatchClient,
  plan: ShiftPlan,
  sleep: (seconds: number) => Promise<void> = (s) => new Promise((r) => setTimeout(r, s * 1000)),
): Promise<ShiftResult> {
  checkShiftPlan(plan);
  const variants = await describeVariants(sm, plan.endpointName);
  requireVariants(variants, plan.endpointName, { from: plan.from, to: plan.to });
  const original = Object.fromEntries(variants.map((v) => [v.name, v.weight]));
  const pool = original[plan.from] + original[plan.to];
  const applied: Array<Record<string, number>> = [];
  for (let step = 1; step <= plan.steps; step++) {
    const firing = await firingAlarms(cw, plan.alarmNames);
    if (firing.length) {
      await setWeights(sm, plan.endpointName, original);
      return { outcome: 'reverted', applied, firing, finalWeights: original };
    }
    const toShare = original[plan.to] + ((pool - original[plan.to]) * step) / plan.steps;
    const weights = { [plan.from]: round(pool - toShare), [plan.to]: round(toShare) };
    await setWeights(sm, plan.endpointName, weights);
    applied.push(weights);
    await sleep(plan.intervalSeconds);
  }
  const firing = await firingAlarms(cw, plan.alarmNames);
  if (firing.length) {
    await setWeights(sm, plan.endpointName, original);
    return { outcome: 'reverted', applied, firing, finalWeights: original };
  }
  return { outcome: 'completed', applied, firing: [], finalWeights: { ...original, ...applied[applied.length - 1] } };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export interface AbQuery {
  readonly endpointName: string;
  readonly variantA: string;
  readonly variantB: string;
  readonly start: Date;
  readonly end: Date;
  readonly alpha?: number;
}

export interface AbReport {
  readonly endpointName: string;
  readonly window: { readonly start: string; readonly end: string };
  /** 5xx errors per invocation: two-proportion z-test. */
  readonly errorRate: ProportionResult;
  /** Model latency in ms, one observation per minute (the minute's average): Welch's t-test. */
  readonly latency: MeanResult | { readonly skipped: string };
}

/** The A/B result of two variants over a time window, from CloudWatch's per-minute endpoint metrics. */
export async function abResult(cw: CloudWatchClient, q: AbQuery): Promise<AbReport> {
  if (!(q.end.getTime() > q.start.getTime())) throw new Error(`end: got ${q.end.toISOString()}; must be after start (${q.start.toISOString()})`);
  const query = (id: string, variant: string, metricName: string, stat: string): MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: 'AWS/SageMaker',
        MetricName: metricName,
        Dimensions: [
          { Name: 'EndpointName', Value: q.endpointName },
          { Name: 'VariantName', Value: variant },
        ],
      },
      Period: 60,
      Stat: stat,
    },
  });
  const queries = [
    query('invA', q.variantA, 'Invocations', 'Sum'),
    query('errA', q.variantA, 'Invocation5XXErrors', 'Sum'),
    query('latA', q.variantA, 'ModelLatency', 'Average'),
    query('invB', q.variantB, 'Invocations', 'Sum'),
    query('errB', q.variantB, 'Invocation5XXErrors', 'Sum'),
    query('latB', q.variantB, 'ModelLatency', 'Average'),
  ];
  const values: Record<string, number[]> = Object.fromEntries(queries.map((x) => [x.Id!, []]));
  let token: string | undefined;
  do {
    const out = await cw.send(new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: q.start, EndTime: q.end, NextToken: token }));
    for (const r of out.MetricDataResults ?? []) values[r.Id!].push(...(r.Values ?? []));
    token = out.NextToken;
  } while (token);
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const [nA, nB] = [sum(values.invA), sum(values.invB)];
  if (nA === 0 || nB === 0) {
    throw new Error(`no invocations of ${nA === 0 ? q.variantA : q.variantB} on ${q.endpointName} between ${q.start.toISOString()} and ${q.end.toISOString()}`);
  }
  const errorRate = twoProportionZTest(Math.round(sum(values.errA)), Math.round(nA), Math.round(sum(values.errB)), Math.round(nB), q.alpha);
  const ms = (xs: number[]) => xs.map((x) => x / 1000);
  const latency =
    values.latA.length >= 2 && values.latB.length >= 2
      ? welchTTest(summarize(ms(values.latA)), summarize(ms(values.latB)), q.alpha)
      : { skipped: `needs at least 2 minutes with traffic on each variant (got ${values.latA.length} and ${values.latB.length})` };
  return { endpointName: q.endpointName, window: { start: q.start.toISOString(), end: q.end.toISOString() }, errorRate, latency };
}
