import { z } from 'zod';
import { ENVIRONMENT_CONFIG_SCHEMA, EnvironmentConfig } from './environment-config';
import { ConfigPath, formatPath } from './schema-kit';

/** Thrown when a config is invalid; the message lists every problem, one per line. */
export class ConfigValidationError extends Error {
  /** Environment name as given (it may itself be the problem). */
  declare readonly environment: string;
  /** One line per problem: `key.path: got <value>; <what is allowed>`. */
  declare readonly problems: readonly string[];

  constructor(environment: string, problems: readonly string[], source?: string) {
    super(`Invalid configuration for environment '${environment}'${source ? ` (${source})` : ''}:\n- ${problems.join('\n- ')}`);
    this.name = 'ConfigValidationError';
    // Not enumerable: Node prints an uncaught error's own enumerable properties after its stack, which
    // would list every problem a second time.
    Object.defineProperty(this, 'environment', { value: environment, enumerable: false });
    Object.defineProperty(this, 'problems', { value: [...problems], enumerable: false });
  }
}

/**
 * zod issues as config messages: `serving.variants[0].minInstances: got 1; allowed: ...`, one line per
 * unknown key (`serving.variants[0].instanceTyp: unknown key; allowed: ...`), `missing` for absent keys.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: ConfigPath = []): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...path, key]) || key}: ${issue.message}`);
      continue;
    }
    const value = (issue as { input?: unknown }).input;
    lines.push(`${formatPath(path) || 'config'}: ${value === undefined ? 'missing' : `got ${JSON.stringify(value)}`}; ${issue.message}`);
  }
  return [...new Set(lines)];
}

/** Every problem of `config` (empty when it is valid), each naming the key path, the value and what is allowed. */
export function findConfigProblems(config: unknown): string[] {
  const result = ENVIRONMENT_CONFIG_SCHEMA.safeParse(config, { reportInput: true });
  return result.success ? [] : formatIssues(result.error.issues);
}

/**
 * Throws a `ConfigValidationError` listing every problem, or returns the config unchanged (the schema has no
 * defaults or transforms, so the parsed value would equal it). `source` names where part of it came from.
 */
export function validateEnvironmentConfig(config: unknown, source?: string): EnvironmentConfig {
  const problems = findConfigProblems(config);
  if (problems.length) {
    const name = typeof config === 'object' && config !== null ? String((config as { name?: unknown }).name) : String(config);
    throw new ConfigValidationError(name, problems, source);
  }
  return config as EnvironmentConfig;
}
