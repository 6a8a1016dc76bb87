/** Conditions of a `Condition` step: comparisons, membership and `Or`, rendered as the service expects. */
import { AnyValue, renderValue, Renderable, RenderContext } from './expressions';

export type ComparisonType =
  | 'Equals'
  | 'NotEquals'
  | 'GreaterThan'
  | 'GreaterThanOrEqualTo'
  | 'LessThan'
  | 'LessThanOrEqualTo';

/** A condition a `ConditionStep` evaluates; all of a step's conditions must hold for its `ifSteps` to run. */
export abstract class Condition extends Renderable {}

/** `left <type> right`. */
export class ComparisonCondition extends Condition {
  constructor(
    public readonly type: ComparisonType,
    public readonly left: AnyValue,
    public readonly right: AnyValue,
  ) {
    super();
  }

  public render(ctx: RenderContext): unknown {
    return { Type: this.type, LeftValue: renderValue(this.left, ctx), RightValue: renderValue(this.right, ctx) };
  }
}

/** `value` is (or, negated, is not) one of `candidates`. */
export class InCondition extends Condition {
  constructor(
    public readonly value: AnyValue,
    public readonly candidates: readonly AnyValue[],
    public readonly negated = false,
  ) {
    super();
  }

  public render(ctx: RenderContext): unknown {
    return {
      Type: this.negated ? 'NotIn' : 'In',
      Value: renderValue(this.value, ctx),
      In: this.candidates.map((c) => renderValue(c, ctx)),
    };
  }
}

/** At least one of `conditions` holds. The service allows comparisons and membership tests inside `Or`. */
export class OrCondition extends Condition {
  constructor(public readonly conditions: readonly (ComparisonCondition | InCondition)[]) {
    super();
  }

  public render(ctx: RenderContext): unknown {
    return { Type: 'Or', Conditions: this.conditions.map((c) => c.render(ctx)) };
  }
}

export const equals = (l: AnyValue, r: AnyValue) => new ComparisonCondition('Equals', l, r);
export const notEquals = (l: AnyValue, r: AnyValue) => new ComparisonCondition('NotEquals', l, r);
export const greaterThan = (l: AnyValue, r: AnyValue) => new ComparisonCondition('GreaterThan', l, r);
export const greaterThanOrEqualTo = (l: AnyValue, r: AnyValue) =>
  new ComparisonCondition('GreaterThanOrEqualTo', l, r);
export const lessThan = (l: AnyValue, r: AnyValue) => new ComparisonCondition('LessThan', l, r);
export const lessThanOrEqualTo = (l: AnyValue, r: AnyValue) => new ComparisonCondition('LessThanOrEqualTo', l, r);
export const isIn = (value: AnyValue, candidates: readonly AnyValue[]) => new InCondition(value, candidates);
export const notIn = (value: AnyValue, candidates: readonly AnyValue[]) => new InCondition(value, candidates, true);
export const or = (...conditions: (ComparisonCondition | InCondition)[]) => new OrCondition(conditions);
