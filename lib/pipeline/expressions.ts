/**
 * Values of a SageMaker Model Building Pipeline definition (Version 2020-12-01) that the service resolves at
 * run time: parameters, step properties, execution variables, `Std:Join` and `Std:JsonGet`.
 *
 * Each class renders itself to the definition's JSON form and, while rendering, tells the `RenderContext`
 * which parameter, step or property file it reads, so the pipeline builder can reject unknown references
 * and derive step dependencies without ever parsing a string (strings may be CDK tokens; they are copied
 * verbatim and resolved later by `Stack.toJsonString`).
 */
import { Tokenization } from 'aws-cdk-lib';

/** The value type a runtime expression produces; used only by the type checker. */
export type ValueKind = 'String' | 'Integer' | 'Float' | 'Boolean';

/** What an expression reads; reported to the context while it renders. */
export type Reference =
  | { readonly kind: 'parameter'; readonly parameter: Parameter<ValueKind, unknown> }
  | { readonly kind: 'step'; readonly stepName: string; readonly path: string }
  | { readonly kind: 'propertyFile'; readonly stepName: string; readonly propertyFile: string }
  | { readonly kind: 'execution'; readonly variable: string };

/** Receives the references met while rendering one step. */
export interface RenderContext {
  reference(ref: Reference): void;
}

/** Anything that renders to a piece of the definition (expressions, conditions). */
export abstract class Renderable {
  /** The JSON form, reporting every reference to `ctx`. */
  public abstract render(ctx: RenderContext): unknown;
}

/** A value the pipeline resolves at run time. `K` is the type it produces. */
export abstract class Expression<K extends ValueKind = ValueKind> extends Renderable {
  /** Phantom member: keeps an `Expression<'Integer'>` out of a field that needs a string. */
  declare protected readonly valueKind: K;
}

export type StringValue = string | Expression<'String'>;
export type IntegerValue = number | Expression<'Integer'>;
export type FloatValue = number | Expression<'Float'> | Expression<'Integer'>;
export type BooleanValue = boolean | Expression<'Boolean'>;
/** Any literal or expression, for conditions. */
export type AnyValue = string | number | boolean | Expression;

// ---------------------------------------------------------------- parameters

export type ParameterType = 'String' | 'Integer' | 'Float' | 'Boolean';

export interface ParameterProps<V> {
  /** Value used when an execution does not set the parameter. @default none: every execution must set it */
  readonly defaultValue?: V;
  /** Shown in SageMaker Studio next to the parameter. @default none */
  readonly description?: string;
}

/** A pipeline parameter; referencing it renders `{"Get": "Parameters.<name>"}`. */
export abstract class Parameter<K extends ValueKind, V> extends Expression<K> {
  public abstract readonly type: ParameterType;
  public readonly defaultValue?: V;
  public readonly description?: string;

  protected constructor(
    public readonly name: string,
    props: ParameterProps<V> = {},
  ) {
    super();
    this.defaultValue = props.defaultValue;
    this.description = props.description;
  }

  public render(ctx: RenderContext): unknown {
    ctx.reference({ kind: 'parameter', parameter: this });
    return { Get: `Parameters.${this.name}` };
  }

  /** The parameter as text, for fields that take strings only (hyperparameters): a one-value `Std:Join`. */
  public asString(): Expression<'String'> {
    return new Join('', [this]);
  }

  /** The entry of the definition's `Parameters` list. */
  public toDefinition(): Record<string, unknown> {
    return {
      Name: this.name,
      Type: this.type,
      ...(this.defaultValue !== undefined ? { DefaultValue: this.defaultValue } : {}),
      ...(this.description !== undefined ? { Description: this.description } : {}),
    };
  }
}

export class StringParameter extends Parameter<'String', string> {
  public readonly type = 'String' as const;
  constructor(name: string, props?: ParameterProps<string>) {
    super(name, props);
  }
}

export class IntegerParameter extends Parameter<'Integer', number> {
  public readonly type = 'Integer' as const;
  constructor(name: string, props?: ParameterProps<number>) {
    super(name, props);
  }
}

export class FloatParameter extends Parameter<'Float', number> {
  public readonly type = 'Float' as const;
  constructor(name: string, props?: ParameterProps<number>) {
    super(name, props);
  }
}

export class BooleanParameter extends Parameter<'Boolean', boolean> {
  public readonly type = 'Boolean' as const;
  constructor(name: string, props?: ParameterProps<boolean>) {
    super(name, props);
  }
}

// ---------------------------------------------------------------- step properties and execution variables

/**
 * A property of another step's Describe* response, e.g. `ModelArtifacts.S3ModelArtifacts` of a training
 * step. Reading it makes the reading step wait for that step.
 */
export class StepProperty<K extends ValueKind = 'String'> extends Expression<K> {
  constructor(
    public readonly stepName: string,
    public readonly path: string,
  ) {
    super();
  }

  public render(ctx: RenderContext): unknown {
    ctx.reference({ kind: 'step', stepName: this.stepName, path: this.path });
    return { Get: `Steps.${this.stepName}.${this.path}` };
  }
}

/** A property of a step by name; prefer the typed helpers on step objects (`TrainingStep.modelArtifactsUri`). */
export function stepProperty<K extends ValueKind = 'String'>(stepName: string, path: string): StepProperty<K> {
  return new StepProperty<K>(stepName, path);
}

/** Variables of the running execution. */
export class ExecutionVariable extends Expression<'String'> {
  public static readonly PIPELINE_EXECUTION_ID = new ExecutionVariable('PipelineExecutionId');
  public static readonly PIPELINE_EXECUTION_ARN = new ExecutionVariable('PipelineExecutionArn');
  public static readonly PIPELINE_NAME = new ExecutionVariable('PipelineName');
  public static readonly PIPELINE_ARN = new ExecutionVariable('PipelineArn');
  public static readonly START_DATETIME = new ExecutionVariable('StartDateTime');
  public static readonly CURRENT_DATETIME = new ExecutionVariable('CurrentDateTime');

  private constructor(public readonly variable: string) {
    super();
  }

  public render(ctx: RenderContext): unknown {
    ctx.reference({ kind: 'execution', variable: this.variable });
    return { Get: `Execution.${this.variable}` };
  }
}

// ---------------------------------------------------------------- functions

/** A value a `Join` accepts: literals are written as they are, expressions resolved at run time. */
export type JoinValue = string | number | boolean | Expression;

/**
 * `Std:Join`: the values as text, separated by `on`. The service joins plain values and references only, so
 * nested joins are flattened: into this join when they share its separator, otherwise everything is rewritten
 * as one join on '' with the separators written out as literals.
 */
export class Join extends Expression<'String'> {
  public readonly on: string;
  public readonly values: readonly JoinValue[];

  constructor(on: string, values: readonly JoinValue[]) {
    super();
    const nestedDiffer = values.some((v) => v instanceof Join && v.on !== on && v.values.length > 1);
    if (!nestedDiffer) {
      this.on = on;
      this.values = values.flatMap((v) => (v instanceof Join ? [...v.values] : [v]));
    } else {
      this.on = '';
      this.values = interleave(values.map((v) => (v instanceof Join ? interleave(v.values.map((x) => [x]), v.on) : [v])), on);
    }
  }

  public render(ctx: RenderContext): unknown {
    return { 'Std:Join': { On: this.on, Values: this.values.map((v) => renderValue(v, ctx)) } };
  }
}

function interleave(groups: readonly (readonly JoinValue[])[], separator: string): JoinValue[] {
  const out: JoinValue[] = [];
  groups.forEach((group, i) => {
    if (i > 0 && separator !== '') out.push(separator);
    out.push(...group);
  });
  return out;
}

/** Shorthand for `new Join(on, values)`. */
export function join(on: string, values: readonly JoinValue[]): Join {
  return new Join(on, values);
}

/**
 * `Std:JsonGet`: a value read from a JSON file that a processing step declared as a property file
 * (e.g. `evaluation.json`), at a dotted path such as `multiclass_classification_metrics.accuracy.value`.
 */
export class JsonGet<K extends ValueKind = 'Float'> extends Expression<K> {
  constructor(
    public readonly stepName: string,
    public readonly propertyFile: string,
    public readonly jsonPath: string,
  ) {
    super();
  }

  public render(ctx: RenderContext): unknown {
    ctx.reference({ kind: 'propertyFile', stepName: this.stepName, propertyFile: this.propertyFile });
    return {
      'Std:JsonGet': {
        PropertyFile: { Get: `Steps.${this.stepName}.PropertyFiles.${this.propertyFile}` },
        Path: this.jsonPath,
      },
    };
  }
}

// ---------------------------------------------------------------- rendering

/**
 * Renders a value tree: expressions and conditions to their JSON form, arrays and plain objects member by
 * member (undefined members dropped), everything else unchanged. CDK tokens (strings, numbers, resolvable
 * objects) pass through untouched for `Stack.toJsonString` to resolve.
 */
export function renderValue(value: unknown, ctx: RenderContext): unknown {
  if (value instanceof Renderable) return value.render(ctx);
  if (value === null || typeof value !== 'object') return value;
  if (Tokenization.isResolvable(value)) return value;
  if (Array.isArray(value)) return value.map((v) => renderValue(v, ctx));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new Error(`Cannot render a ${proto?.constructor?.name ?? 'value'} into a pipeline definition`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value as Record<string, unknown>)) {
    if (member !== undefined) out[key] = renderValue(member, ctx);
  }
  return out;
}
