/**
 * The construct tests, one module per construct (`<construct>.cases.ts`), run in one test file so that they
 * share one process: loading aws-cdk-lib once instead of once per file took these tests from 67 to 20 CPU
 * seconds on this project's 2-core machines.
 */
import { requireCases } from '../support/cases';

requireCases(__dirname);
