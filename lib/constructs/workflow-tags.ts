import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { COST_TAG_KEYS } from '../config/cost-tags';

/** A tag in the `[{Key, Value}]` shape of the SageMaker and Bedrock APIs; the value may be read from the execution. */
export type TaskTag = { readonly Key: string; readonly Value: string } | { readonly Key: string; readonly 'Value.$': string };

/**
 * The tags a state machine puts on every job, model and throughput it creates: `tags` (the environment's
 * cost tags), the workflow's name and the execution's name, so the bill splits by environment, workflow and
 * run. `form` says where the list goes: `'asl'` into a hand-written state (CustomState: the execution's name
 * as a `Value.$` path), `'task'` into a CDK task's parameters (which renders the path itself).
 */
export function workflowTags(tags: Readonly<Record<string, string>>, workflow: string, form: 'asl' | 'task'): TaskTag[] {
  const execution =
    form === 'asl'
      ? { Key: COST_TAG_KEYS.execution, 'Value.$': '$$.Execution.Name' }
      : { Key: COST_TAG_KEYS.execution, Value: sfn.JsonPath.stringAt('$$.Execution.Name') };
  return [...Object.entries(tags).map(([Key, Value]) => ({ Key, Value })), { Key: COST_TAG_KEYS.workflow, Value: workflow }, execution];
}
