import { Template } from 'aws-cdk-lib/assertions';

/** An Amazon States Language definition, parsed. */
export interface StatesDefinition {
  readonly StartAt: string;
  readonly States: Record<string, any>;
}

/**
 * The definition of the template's one state machine (or the one whose logical id starts with `idPrefix`),
 * with every CloudFormation reference in it replaced by `placeholder`.
 */
export function stateMachineDefinition(template: Template, placeholder = '<token>', idPrefix = ''): StatesDefinition {
  const machines = Object.entries(template.findResources('AWS::StepFunctions::StateMachine')).filter(([id]) => id.startsWith(idPrefix));
  if (machines.length !== 1) throw new Error(`expected one state machine${idPrefix ? ` starting with ${idPrefix}` : ''}, found ${machines.length}`);
  const body = (machines[0][1] as any).Properties.DefinitionString;
  const parts: unknown[] = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : placeholder)).join(''));
}

/** The states a state can go to next: Next, a Choice's rules and default, and every Catch. */
export function successors(state: any): string[] {
  return [state.Next, state.Default, ...(state.Choices ?? []).map((c: any) => c.Next), ...(state.Catch ?? []).map((c: any) => c.Next)].filter(
    (s): s is string => typeof s === 'string',
  );
}

/** Every path from `from` to `to` that does not pass through `avoiding` (depth-first, no state twice). */
export function pathsAvoiding(states: Record<string, any>, from: string, to: string, avoiding: string): string[][] {
  const found: string[][] = [];
  const walk = (name: string, trail: string[]) => {
    if (name === avoiding || trail.includes(name)) return;
    if (name === to) return void found.push([...trail, name]);
    for (const next of successors(states[name])) walk(next, [...trail, name]);
  };
  walk(from, []);
  return found;
}
