/**
 * The config tests, one module per topic (`<topic>.cases.ts`), run in one test file so that they share one
 * process: modules such as aws-cdk-lib and the AWS SDK load once instead of once per file.
 */
import { requireCases } from '../support/cases';

requireCases(__dirname);
