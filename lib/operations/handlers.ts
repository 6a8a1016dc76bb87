import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { abResult, describeVariants, promote, rollback, shiftTraffic } from './endpoint-operations';
import { deployToStaging, StagingDeployment, StagingTarget } from './staging';

/**
 * Lambda entry points of the registry and endpoint operations (bundled by typescriptHandlerCode). Settings
 * come from FMFT_OPERATIONS_SETTINGS, JSON written by the CDK stack.
 */

interface Settings {
  readonly staging?: StagingTarget;
  /** The production endpoint the operations act on when the event names none. */
  readonly endpointName?: string;
}

const settings = (): Settings => JSON.parse(process.env.FMFT_OPERATIONS_SETTINGS ?? '{}');
const sagemaker = () => new SageMakerClient({});
const cloudwatch = () => new CloudWatchClient({});

/** The event of `stagingHandler`: the version to serve on the staging endpoint. */
export interface StagingEvent {
  readonly modelPackageArn: string;
}

/** Every problem with a staging event at once: not an object, `modelPackageArn` missing or not a string, unknown fields. */
export function stagingEventProblems(event: unknown): string[] {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return [`event: got ${JSON.stringify(event)}; allowed: {"modelPackageArn": "<versioned model package ARN>"}`];
  const e = event as Record<string, unknown>;
  return [
    ...(e.modelPackageArn === undefined
      ? ['modelPackageArn: missing; staging needs modelPackageArn']
      : typeof e.modelPackageArn !== 'string'
        ? [`modelPackageArn: got ${JSON.stringify(e.modelPackageArn)}; allowed: a versioned model package ARN`]
        : []),
    ...Object.keys(e)
      .filter((f) => f !== 'modelPackageArn')
      .map((f) => `${f}: not a field of staging; allowed: modelPackageArn`),
  ];
}

/**
 * The promotion workflow's staging step: serve `modelPackageArn` (pending or approved) on the staging
 * endpoint of FMFT_OPERATIONS_SETTINGS and return what was deployed.
 */
export async function stagingHandler(event: StagingEvent): Promise<StagingDeployment> {
  const problems = stagingEventProblems(event);
  if (problems.length) throw new Error(problems.join('; '));
  const target = settings().staging;
  if (!target) throw new Error('FMFT_OPERATIONS_SETTINGS has no staging target');
  return deployToStaging(sagemaker(), target, event.modelPackageArn);
}

export type OperationEvent =
  | { readonly action: 'status'; readonly endpointName?: string }
  | { readonly action: 'rollback' | 'promote'; readonly endpointName?: string; readonly variant: string }
  | {
      readonly action: 'shift';
      readonly endpointName?: string;
      readonly from: string;
      readonly to: string;
      readonly steps: number;
      readonly intervalSeconds: number;
      readonly alarmNames: string[];
    }
  | { readonly action: 'ab'; readonly endpointName?: string; readonly variantA: string; readonly variantB: string; readonly minutes: number; readonly alpha?: number };

/** The fields each action takes (required first, then optional); docs/runbook.md's payloads are checked against it. */
export const OPERATION_FIELDS: Readonly<Record<OperationEvent['action'], { readonly required: readonly string[]; readonly optional: readonly string[] }>> = {
  status: { required: [], optional: ['endpointName'] },
  rollback: { required: ['variant'], optional: ['endpointName'] },
  promote: { required: ['variant'], optional: ['endpointName'] },
  shift: { required: ['from', 'to', 'steps', 'intervalSeconds', 'alarmNames'], optional: ['endpointName'] },
  ab: { required: ['variantA', 'variantB', 'minutes'], optional: ['endpointName', 'alpha'] },
};

/** Every problem with an event's fields at once: an unknown action, missing or unknown fields (a typo is never ignored). */
export function operationEventProblems(event: Record<string, unknown>): string[] {
  const actions = Object.keys(OPERATION_FIELDS);
  const fields = OPERATION_FIELDS[event.action as OperationEvent['action']];
  if (!fields) return [`action: got ${JSON.stringify(event.action)}; allowed: ${actions.join(', ')}`];
  const known = ['action', ...fields.required, ...fields.optional];
  return [
    ...fields.required.filter((f) => event[f] === undefined).map((f) => `${f}: missing; ${event.action} needs ${fields.required.join(', ')}`),
    ...Object.keys(event)
      .filter((f) => !known.includes(f))
      .map((f) => `${f}: not a field of ${event.action}; allowed: ${known.join(', ')}`),
  ];
}

/** One function for the endpoint operations; the CLI runs the same library from a workstation. */
export async function operationsHandler(event: OperationEvent): Promise<unknown> {
  const problems = operationEventProblems(event as unknown as Record<string, unknown>);
  if (problems.length) throw new Error(problems.join('; '));
  const endpointName = event.endpointName ?? settings().endpointName;
  if (!endpointName) throw new Error('endpointName: missing, and FMFT_OPERATIONS_SETTINGS names no endpoint');
  const sm = sagemaker();
  switch (event.action) {
    case 'status':
      return describeVariants(sm, endpointName);
    case 'rollback':
      return rollback(sm, endpointName, event.variant);
    case 'promote':
      return promote(sm, endpointName, event.variant);
    case 'shift':
      // Lambda runs at most 15 minutes: longer shifts go through the CLI.
      if (event.steps * event.intervalSeconds > 780) {
        throw new Error(`steps x intervalSeconds: got ${event.steps * event.intervalSeconds} s; allowed in Lambda: at most 780 s (use scripts/endpoint.ts shift for longer)`);
      }
      return shiftTraffic(sm, cloudwatch(), { endpointName, from: event.from, to: event.to, steps: event.steps, intervalSeconds: event.intervalSeconds, alarmNames: event.alarmNames });
    case 'ab': {
      const end = new Date();
      return abResult(cloudwatch(), { endpointName, variantA: event.variantA, variantB: event.variantB, start: new Date(end.getTime() - event.minutes * 60_000), end, alpha: event.alpha });
    }
    default:
      throw new Error(`action: got ${JSON.stringify((event as { action?: unknown }).action)}; allowed: status, rollback, promote, shift, ab`);
  }
}
