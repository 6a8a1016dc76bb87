/**
 * Builds a SageMaker Model Building Pipeline definition (Version 2020-12-01) from typed parameters and steps.
 *
 * `buildPipelineDefinition` checks the whole graph at once and throws one error listing every problem:
 * step and parameter names, duplicates, references to unknown steps, parameters or property files, unused
 * parameters, dependency cycles, and each step's own rules (retry limits, VPC, network isolation,
 * inter-container encryption, KMS keys, stopping conditions, spot settings). Dependencies come from property
 * references; `DependsOn` is written only for the ones no reference implies.
 *
 * The result is a plain object; a stack serializes it with `Stack.of(scope).toJsonString(definition)`, which
 * also resolves any CDK tokens (role ARNs, bucket names) the builder carried through untouched.
 */
import { Token } from 'aws-cdk-lib';
import { Parameter, Reference, RenderContext, ValueKind } from './expressions';
import { STEP_NAME_PATTERN, Step } from './steps';

export * from './conditions';
export * from './expressions';
export * from './steps';

export const PIPELINE_DEFINITION_VERSION = '2020-12-01';

/** Parameter name rule of the definition schema (`ParameterName`). */
export const PARAMETER_NAME_PATTERN = /^[A-Za-z0-9\-_]{1,64}$/;

/** Execution variables the service provides (`{"Get": "Execution.<name>"}`). */
const EXECUTION_VARIABLES = new Set([
  'PipelineExecutionId',
  'PipelineExecutionArn',
  'PipelineName',
  'PipelineArn',
  'StartDateTime',
  'CurrentDateTime',
]);

export interface PipelineDefinitionProps {
  /** Every parameter the steps read; each must be read by at least one step. @default none */
  readonly parameters?: readonly Parameter<ValueKind, unknown>[];
  /** Top-level steps; a condition's branch steps are listed in the condition only. */
  readonly steps: readonly Step[];
  /** Free-form metadata, keys and values as the schema allows. @default none */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The definition document, ready for `Stack.toJsonString`. */
export interface PipelineDefinitionDocument {
  readonly Version: typeof PIPELINE_DEFINITION_VERSION;
  readonly Metadata: Readonly<Record<string, string>>;
  readonly Parameters: readonly Record<string, unknown>[];
  readonly Steps: readonly Record<string, unknown>[];
}

class StepReferences implements RenderContext {
  public readonly refs: Reference[] = [];
  public reference(ref: Reference): void {
    this.refs.push(ref);
  }
}

/** Render and check a pipeline definition; throws one error that lists every problem. */
export function buildPipelineDefinition(props: PipelineDefinitionProps): PipelineDefinitionDocument {
  const problems: string[] = [];

  // Every step, branch steps included, with its enclosing condition (a branch step waits for the condition).
  const all: { step: Step; parent?: Step }[] = [];
  const visit = (step: Step, parent?: Step) => {
    all.push({ step, parent });
    step.children().forEach((child) => visit(child, step));
  };
  props.steps.forEach((s) => visit(s));

  const byName = new Map<string, Step>();
  for (const { step } of all) {
    if (!STEP_NAME_PATTERN.test(step.name)) {
      problems.push(`step name '${step.name}' must match ${STEP_NAME_PATTERN} (letters, digits, '-', '_', at most 64)`);
    }
    const seen = byName.get(step.name);
    if (seen === step) {
      problems.push(`step '${step.name}' appears more than once in the pipeline`);
    } else if (seen) {
      problems.push(`duplicate step name '${step.name}'`);
    } else {
      byName.set(step.name, step);
    }
  }

  const parameters = props.parameters ?? [];
  const parametersByName = new Map<string, Parameter<ValueKind, unknown>>();
  for (const p of parameters) {
    if (!PARAMETER_NAME_PATTERN.test(p.name)) problems.push(`parameter name '${p.name}' must match ${PARAMETER_NAME_PATTERN}`);
    if (parametersByName.has(p.name)) problems.push(`duplicate parameter name '${p.name}'`);
    parametersByName.set(p.name, p);
    problems.push(...parameterDefaultProblems(p));
  }
  for (const [key, value] of Object.entries(props.metadata ?? {})) {
    if (!/^[A-Za-z0-9\-_]{1,128}$/.test(key)) problems.push(`metadata key '${key}' must match ^[A-Za-z0-9\\-_]{1,128}$`);
    if (!Token.isUnresolved(value) && value.length > 1024) problems.push(`metadata '${key}' must be at most 1024 characters`);
  }

  // Render every step once, remembering what it reads.
  const usedParameters = new Set<string>();
  const rendered = new Map<Step, Record<string, unknown>>();
  const upstream = new Map<Step, Set<string>>(); // step -> names of the steps it reads or depends on
  const renderStep = (step: Step): Record<string, unknown> => {
    const done = rendered.get(step);
    if (done) return done;
    const ctx = new StepReferences();
    const json = step.render(ctx, { renderStep });
    const implied = new Set<string>();
    for (const ref of ctx.refs) {
      const at = `step '${step.name}'`;
      switch (ref.kind) {
        case 'parameter': {
          const declared = parametersByName.get(ref.parameter.name);
          if (!declared) problems.push(`${at} references unknown parameter '${ref.parameter.name}'`);
          else if (declared !== ref.parameter) {
            problems.push(`${at} references a parameter '${ref.parameter.name}' other than the one declared`);
          }
          usedParameters.add(ref.parameter.name);
          break;
        }
        case 'step':
        case 'propertyFile': {
          const target = byName.get(ref.stepName);
          if (!target) {
            const what = ref.kind === 'step' ? `Steps.${ref.stepName}.${ref.path}` : `property file '${ref.propertyFile}'`;
            problems.push(`${at} references unknown step '${ref.stepName}' (${what})`);
          } else if (target === step) {
            problems.push(`${at} references itself`);
          } else if (ref.kind === 'propertyFile' && !target.propertyFileNames().includes(ref.propertyFile)) {
            problems.push(`${at} reads property file '${ref.propertyFile}', which step '${ref.stepName}' does not declare`);
          }
          implied.add(ref.stepName);
          break;
        }
        case 'execution':
          if (!EXECUTION_VARIABLES.has(ref.variable)) problems.push(`${at} references unknown execution variable '${ref.variable}'`);
          break;
      }
    }
    const explicit: string[] = [];
    for (const dep of step.dependsOn) {
      const name = typeof dep === 'string' ? dep : dep.name;
      if (!byName.has(name)) problems.push(`step '${step.name}' depends on unknown step '${name}'`);
      else if (name === step.name) problems.push(`step '${step.name}' depends on itself`);
      else if (!implied.has(name) && !explicit.includes(name)) explicit.push(name);
    }
    upstream.set(step, new Set([...implied, ...explicit]));
    const { Name, Type, ...rest } = json;
    const out = { Name, Type, ...(explicit.length ? { DependsOn: explicit } : {}), ...rest };
    rendered.set(step, out);
    return out;
  };
  const steps = props.steps.map(renderStep);
  for (const { step } of all) renderStep(step); // branch steps are rendered by their condition; this is a no-op then

  for (const p of parameters) {
    if (!usedParameters.has(p.name)) problems.push(`parameter '${p.name}' is declared but no step reads it`);
  }
  for (const { step, parent } of all) {
    if (parent) upstream.get(step)?.add(parent.name);
    for (const problem of step.problems()) problems.push(`step '${step.name}': ${problem}`);
  }
  problems.push(...cycleProblems(all.map((e) => e.step), upstream, byName));

  if (problems.length) throw new Error(`Invalid pipeline definition:\n- ${problems.join('\n- ')}`);
  return {
    Version: PIPELINE_DEFINITION_VERSION,
    Metadata: { ...(props.metadata ?? {}) },
    Parameters: parameters.map((p) => p.toDefinition()),
    Steps: steps,
  };
}

function parameterDefaultProblems(p: Parameter<ValueKind, unknown>): string[] {
  const v = p.defaultValue;
  if (v === undefined || Token.isUnresolved(v)) return [];
  const at = `parameter '${p.name}'`;
  switch (p.type) {
    case 'String':
      return typeof v === 'string' && v.length <= 4096 ? [] : [`${at}: default must be a string of at most 4096 characters`];
    case 'Integer':
      return Number.isInteger(v) ? [] : [`${at}: default must be an integer, got ${v}`];
    case 'Float':
      return typeof v === 'number' && Number.isFinite(v) ? [] : [`${at}: default must be a finite number, got ${v}`];
    case 'Boolean':
      return typeof v === 'boolean' ? [] : [`${at}: default must be a boolean, got ${v}`];
  }
}

function cycleProblems(steps: Step[], upstream: Map<Step, Set<string>>, byName: Map<string, Step>): string[] {
  const state = new Map<Step, 'open' | 'done'>();
  const problems: string[] = [];
  const walk = (step: Step, path: string[]) => {
    if (state.get(step) === 'done') return;
    if (state.get(step) === 'open') {
      problems.push(`dependency cycle: ${[...path.slice(path.indexOf(step.name)), step.name].join(' -> ')}`);
      return;
    }
    state.set(step, 'open');
    for (const name of upstream.get(step) ?? []) {
      const next = byName.get(name);
      if (next && next !== step) walk(next, [...path, step.name]);
    }
    state.set(step, 'done');
  };
  steps.forEach((s) => walk(s, []));
  return problems;
}
