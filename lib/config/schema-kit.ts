import { z } from 'zod';

/**
 * Building blocks of the config schema. Every message is the "what is allowed" part only; `formatIssues`
 * (validate.ts) puts the key path and the value in front: `network.natGateways: got 3; allowed: ...`.
 */

/** A path inside the config, as zod reports it. */
export type ConfigPath = readonly PropertyKey[];

/** Reports one problem from a refinement: the path (relative to the refined schema), the value, the message. */
export type Report = (path: ConfigPath, value: unknown, message: string) => void;

/** A `Report` that adds custom issues to a refinement's context. */
export function reporter(ctx: z.core.$RefinementCtx): Report {
  return (path, value, message) => ctx.addIssue({ code: 'custom', path: [...path], input: value, message });
}

/**
 * A strict object: unknown keys are errors naming the allowed keys, and anything but an object (null
 * included) is an error naming the keys it should have. Readonly in its inferred type, like an L2's props.
 */
export function strictObject<T extends z.ZodRawShape>(shape: T) {
  const keys = Object.keys(shape).join(', ');
  return z
    .strictObject(shape, {
      error: (issue) => {
        if (issue.code === 'unrecognized_keys') return `unknown key; allowed: ${keys}`;
        if (issue.code === 'invalid_type') return `allowed: an object with ${keys}`;
        return undefined;
      },
    })
    .readonly();
}

/** A whole number in [min, max]; the same message for a wrong type, a fraction or a value out of range. */
export function wholeNumber(min: number, max: number, allowed = `a whole number from ${min} to ${max}`) {
  const error = `allowed: ${allowed}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A finite number for which `ok` holds. */
export function numberWhere(ok: (n: number) => boolean, allowed: string) {
  const error = `allowed: ${allowed}`;
  return z.number({ error }).refine(ok, { error });
}

/** One of a fixed list of numbers, typed as `number` (constructs take any number and check it themselves). */
export function numberIn(values: readonly number[]) {
  const error = `allowed: one of ${values.join(', ')}`;
  return z.number({ error }).refine((n) => values.includes(n), { error });
}

/** One of a fixed list of strings, typed as their union. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `allowed: ${values.join(', ')}` });
}

/** A string matching `pattern`. */
export function matching(pattern: RegExp, allowed: string) {
  const error = `allowed: ${allowed}`;
  return z.string({ error }).regex(pattern, { error });
}

/** A string for which `problem` returns nothing; otherwise its message (the value's own "allowed" part). */
export function stringWhere(problem: (s: string) => string | undefined, typeError: string) {
  return z.string({ error: `allowed: ${typeError}` }).superRefine((s, ctx) => {
    const message = problem(s);
    if (message) ctx.addIssue({ code: 'custom', input: s, message });
  });
}

export const yesNo = () => z.boolean({ error: 'allowed: true or false' });

/** `training.tuning.loraR`, `serving.variants[0].name`: the path as it is written in messages. */
export function formatPath(path: ConfigPath): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}
