/**
 * Tests of whole environments (every stack of dev, prod, and prod serving the fixture), one module per topic
 * (`<topic>.cases.ts`), run in one test file so that they share one process: each environment is then
 * synthesized once with the five cdk-nag packs (synthesizeEnvironment caches by config), not once per module.
 */
import { requireCases } from '../support/cases';

requireCases(__dirname);
