import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addCompliancePacks } from '../../lib/compliance-packs';
import { EnvironmentConfig } from '../../lib/config/environment-config';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { addFineTuningPlatform, FineTuningPlatform } from '../../lib/fine-tuning-platform';

const CDK_JSON = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));

/** An App with the feature flags of cdk.json, which `new App()` in a test would not apply on its own. */
export function testApp(outdir?: string): App {
  return new App({ context: { ...CDK_JSON.context }, outdir: outdir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-test-')) });
}

/** A stack in the dev region for construct tests. */
export function testStack(id = 'TestStack'): Stack {
  return new Stack(testApp(), id, { env: { region: ENVIRONMENTS.dev.primaryRegion } });
}

/** Deep copy of an environment with changes, for bad-input tests. */
export function configWith(base: EnvironmentConfig, change: (c: any) => void): EnvironmentConfig {
  const copy = JSON.parse(JSON.stringify(base));
  change(copy);
  return copy;
}

export interface SynthesizedEnvironment {
  /** The stacks, as bin/app.ts builds them. */
  readonly platform: FineTuningPlatform;
  /** The cloud assembly directory (templates, assets, validation report). */
  readonly outdir: string;
  readonly templates: { network: Template; storage: Template; security: Template; training: Template; pipelines: Template; bedrock: Template };
  /** Raw templates keyed by stack name. */
  readonly raw: Record<string, any>;
  /** cdk-nag's policy validation report of the app. */
  readonly report: ValidationReport;
}

export interface ValidationReport {
  pluginReports: Array<{
    pluginName: string;
    conclusion: string;
    violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }>;
    suppressedViolations?: Array<{ ruleName: string; acknowledgedId: string; acknowledgedAt: string; reason?: string }>;
  }>;
}

const cache = new Map<string, SynthesizedEnvironment>();

/**
 * Synthesizes every stack of one environment with the five cdk-nag packs, as bin/app.ts does, once per test
 * file. Every configuration a test builds is one a user could deploy, so any unacknowledged finding fails here,
 * as it fails `cdk synth` (bin/app.ts); the tests read the report for the acknowledgements and their reasons.
 */
export function synthesizeEnvironment(
  config: EnvironmentConfig,
  options: { failover?: boolean; /** Changes the platform before synth (not cached): for tests of this helper. */ change?: (platform: FineTuningPlatform) => void } = {},
): SynthesizedEnvironment {
  const key = JSON.stringify({ config, failover: options.failover ?? false });
  const hit = options.change ? undefined : cache.get(key);
  if (hit) return hit;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-stage-'));
  const app = testApp(outdir);
  const region = options.failover ? config.drRegion : config.primaryRegion;
  const platform = addFineTuningPlatform(app, { config, env: { region }, failover: options.failover });
  options.change?.(platform);
  addCompliancePacks(app);
  try {
    app.synth();
  } catch (e) {
    // aws-cdk-lib's error for findings (its message is the rendered report): the report is read below.
    if ((e as Error).name !== 'ValidationFailed') throw e;
  }
  const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
  const findings = unacknowledgedFindings(report);
  if (findings.length > 0) {
    const what = `${config.name}${options.failover ? ' (failover)' : ''}`;
    throw new Error(`${what}: ${findings.length} unacknowledged finding(s) of cdk-nag or CDK's CloudFormation validation, which would fail cdk synth:\n${findings.join('\n')}`);
  }
  const assembly = app.synth();
  const raw: Record<string, any> = {};
  for (const s of assembly.stacks) raw[s.stackName] = s.template;
  const result: SynthesizedEnvironment = {
    platform,
    outdir,
    templates: {
      network: Template.fromStack(platform.network),
      storage: Template.fromStack(platform.storage),
      security: Template.fromStack(platform.security),
      training: Template.fromStack(platform.training),
      pipelines: Template.fromStack(platform.pipelines),
      bedrock: Template.fromStack(platform.bedrock),
    },
    raw,
    report,
  };
  if (!options.change) cache.set(key, result);
  return result;
}

/** Every finding of a validation report that no acknowledgement covers, as `<rule> at <construct path>`. */
export function unacknowledgedFindings(report: ValidationReport): string[] {
  return report.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
}

/** A template with asset hashes replaced, so snapshots change only when the infrastructure does. */
export function normalizedTemplate(template: Template): unknown {
  const text = JSON.stringify(template.toJSON());
  return sortPolicyResources(JSON.parse(text.replace(/[0-9a-f]{64}(\.zip|\.json)?/g, 'ASSET_HASH$1')));
}

/**
 * IAM orders a statement's resources by their text, and asset ARNs carry the asset's hash: a change to the
 * training code can swap two of them. Sorted after the hashes are replaced, the order no longer moves.
 */
function sortPolicyResources(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortPolicyResources);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, sortPolicyResources(v)] as const);
  const result = Object.fromEntries(entries) as Record<string, unknown>;
  if ('Effect' in result && Array.isArray(result.Resource)) {
    result.Resource = [...result.Resource].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return result;
}
