import * as fs from 'fs';
import * as path from 'path';

/** The suffix of test modules that an aggregating `*.test.ts` runs (see `requireCases`). */
export const CASES_SUFFIX = '.cases.ts';

/**
 * Loads every `*.cases.ts` module of `dir`, in name order, into the calling test file. Loading aws-cdk-lib
 * and synthesizing environments cost seconds per test file (jest isolates modules per file); modules that
 * share one test file pay that once. Reading the folder, not a list, means no module can be left out.
 */
export function requireCases(dir: string): void {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(CASES_SUFFIX)).sort();
  if (files.length === 0) throw new Error(`requireCases: no *${CASES_SUFFIX} modules in ${dir}`);
  for (const file of files) require(path.join(dir, file));
}
