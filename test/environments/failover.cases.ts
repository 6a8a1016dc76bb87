import { Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { failoverConfig, failoverContext } from '../../lib/config/failover';
import { findConfigProblems } from '../../lib/config/validate';
import { configWith, synthesizeEnvironment, unacknowledgedFindings } from '../support/app';
import { templateText } from '../support/template-text';

const prod = ENVIRONMENTS.prod;
const primary = synthesizeEnvironment(prod);
const failover = synthesizeEnvironment(prod, { failover: true });
const stackNames = (env: typeof primary) => env.platform.stacks.map((s) => s.stackName);

const text = templateText;

/**
 * Names that are global to the account (or to S3), by resource type: a failover deployment in the same account
 * must not take any of the primary region's.
 */
const GLOBAL_NAMES: Record<string, string> = {
  'AWS::CloudWatch::Dashboard': 'DashboardName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::IAM::User': 'UserName',
  'AWS::IAM::Group': 'GroupName',
  'AWS::IAM::InstanceProfile': 'InstanceProfileName',
  'AWS::Budgets::Budget': 'Budget.BudgetName',
  'AWS::S3::Bucket': 'BucketName',
};

function globalNames(env: typeof primary, skip: string[] = []): string[] {
  const names: string[] = [];
  for (const stack of env.platform.stacks.filter((s) => !skip.includes(s.stackName))) {
    const template = Template.fromStack(stack);
    for (const [type, path] of Object.entries(GLOBAL_NAMES)) {
      for (const r of Object.values(template.findResources(type)) as any[]) {
        const value = path.split('.').reduce((v: any, k) => v?.[k], r.Properties);
        if (value !== undefined) names.push(`${type} ${text(value)}`);
      }
    }
  }
  return names;
}

describe('failover: the same stacks in drRegion, on the replicas (-c failover=true)', () => {
  test('every stack of the environment is deployed to drRegion under its usual name', () => {
    expect(failover.platform.stacks.map((s) => s.region)).toEqual(failover.platform.stacks.map(() => prod.drRegion));
    expect(stackNames(failover)).toEqual(stackNames(primary));
  });

  test('the config is the environment\u2019s with the regions swapped, the failover zones, and no replication or backups', () => {
    const derived = failoverConfig(prod);
    expect([derived.primaryRegion, derived.drRegion]).toEqual([prod.drRegion, prod.primaryRegion]);
    expect(derived.network.availabilityZones).toEqual(prod.disasterRecovery.failover!.availabilityZones);
    expect(derived.disasterRecovery).toEqual({ replication: false });
    expect({ ...derived, primaryRegion: 0, drRegion: 0, network: 0, disasterRecovery: 0 }).toEqual({ ...prod, primaryRegion: 0, drRegion: 0, network: 0, disasterRecovery: 0 });
  });

  test('the storage stack makes no bucket and no data key: the platform\u2019s buckets and keys are the DR stack\u2019s replicas', () => {
    const storage = Template.fromStack(failover.platform.storage);
    storage.resourceCountIs('AWS::S3::Bucket', 0);
    storage.resourceCountIs('AWS::KMS::Key', 1); // the Bedrock custom-model key, which the DR stack lacks
    const dr = failover.platform.dr!;
    expect(failover.platform.storage.buckets.trainingData).toBe(dr.replicas.trainingData);
    expect(failover.platform.storage.buckets.modelArtifacts).toBe(dr.replicas.modelArtifacts);
    expect(failover.platform.storage.invocationLogsBucket).toBe(dr.replicas.invocationLogs);
    expect(failover.platform.storage.dataKey).toBe(dr.dataKey);
    const outputs = storage.toJSON().Outputs;
    expect(text(outputs.ModelArtifactsBucketName.Value)).toMatch(/^<fmft-prod-dr\.PublishOutputRefModelArtifactsReplica/);
    // The jobs' roles read and write the replicas.
    expect(JSON.stringify(Template.fromStack(failover.platform.security).toJSON())).toContain('"StackName":"fmft-prod-dr"');
  });

  test('the DR stack is the one already deployed: only outputs for the other stacks, and access-log delivery for the new buckets, are added', () => {
    const before = Template.fromStack(primary.platform.dr!).toJSON();
    const after = Template.fromStack(failover.platform.dr!).toJSON();
    const changed = Object.keys(after.Resources).filter((id) => JSON.stringify(after.Resources[id]) !== JSON.stringify(before.Resources[id]));
    expect(Object.keys(before.Resources).filter((id) => !(id in after.Resources))).toEqual([]);
    expect(changed.every((id) => id.startsWith('AccessLogsReplicaBucketPolicy'))).toBe(true);
    for (const id of changed) {
      const old = before.Resources[id].Properties.PolicyDocument.Statement.map((s: unknown) => JSON.stringify(s));
      const added = after.Resources[id].Properties.PolicyDocument.Statement.filter((s: unknown) => !old.includes(JSON.stringify(s)));
      expect(after.Resources[id].Properties.PolicyDocument.Statement.length).toBe(old.length + added.length);
      for (const s of added) expect(s).toMatchObject({ Action: 's3:PutObject', Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' } });
    }
    for (const key of Object.keys(before.Outputs ?? {})) expect(after.Outputs[key]).toEqual(before.Outputs[key]);
  });

  test('the replicas are ready to run on: retraining notifications, the same lifecycle, Bedrock logs admitted', () => {
    const dr = Template.fromStack(primary.platform.dr!);
    const bucket = (prefix: string) => Object.entries(dr.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith(prefix))![1] as any;
    expect(bucket('TrainingDataReplica').Properties.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    const rules = bucket('ModelArtifactsReplica').Properties.LifecycleConfiguration.Rules.map((r: any) => [r.Prefix, r.ExpirationInDays]).filter(([p]: any) => p);
    expect(rules).toEqual(
      expect.arrayContaining([
        ['models/checkpoints/', prod.storage.checkpointExpirationDays],
        ['data-capture/', prod.monitoring.captureRetentionDays],
      ]),
    );
    const policies = Object.values(dr.findResources('AWS::S3::BucketPolicy')).map((p: any) => JSON.stringify(p.Properties));
    expect(policies.some((p) => p.includes('InvocationLogsReplica') && p.includes('bedrock.amazonaws.com'))).toBe(true);
  });

  test('no account-wide name of the failover deployment is one the primary region\u2019s deployment already holds', () => {
    const taken = new Set(globalNames(primary));
    const failoverNames = globalNames(failover, ['fmft-prod-dr']);
    // The dashboards (their names carry the region) and the buckets the failover adds (audit trail, query results).
    expect(failoverNames.filter((n) => n.startsWith('AWS::CloudWatch::Dashboard')).length).toBeGreaterThanOrEqual(2);
    expect(failoverNames.filter((n) => n.startsWith('AWS::S3::Bucket')).length).toBeGreaterThanOrEqual(1);
    expect(failoverNames.filter((n) => taken.has(n))).toEqual([]);
  });

  test('the check above can fail: counted with the DR stack (the same stack, deployed once), the replicas\u2019 names collide', () => {
    const all = globalNames(primary);
    const taken = new Set(all);
    const collisions = globalNames(failover).filter((n) => taken.has(n));
    const withoutDr = new Set(globalNames(primary, ['fmft-prod-dr']));
    const drNames = all.filter((n) => !withoutDr.has(n));
    expect(drNames.some((n) => n.includes('fmft-prod-dr-model-artifacts'))).toBe(true);
    expect(collisions.sort()).toEqual(drNames.sort());
  });

  test('no budget (the primary\u2019s counts the whole account) and no delivery stack (its roles are account-wide)', () => {
    Template.fromStack(failover.platform.security).resourceCountIs('AWS::Budgets::Budget', 0);
    Template.fromStack(primary.platform.security).resourceCountIs('AWS::Budgets::Budget', 1);
    const withDelivery = configWith(prod, (c) => (c.delivery = { github: { owner: 'example-org', repository: 'fm-platform' }, oidcProvider: 'create', pullRequestDiff: false }));
    expect(synthesizeEnvironment(withDelivery, { failover: true }).platform.delivery).toBeUndefined();
  });

  test('the five cdk-nag packs and CDK\u2019s CloudFormation validation find nothing', () => {
    expect(failover.report.pluginReports.length).toBeGreaterThanOrEqual(5);
    expect(unacknowledgedFindings(failover.report)).toEqual([]);
  });
});

describe('failover: bad input', () => {
  test('an environment without disasterRecovery.failover cannot fail over, and says what it needs', () => {
    const none = configWith(prod, (c) => delete c.disasterRecovery.failover);
    expect(() => failoverConfig(none)).toThrow(/disasterRecovery.failover: got null with replication true; allowed: replication true and failover.availabilityZones set/);
  });

  test('the failover zones are checked with the rest of the config: in drRegion, at least two, unique, with replication on', () => {
    const bad = (change: (c: any) => void) => findConfigProblems(configWith(prod, change)).join('\n');
    expect(bad((c) => (c.disasterRecovery.failover.availabilityZones = ['us-east-1a', 'us-west-2b']))).toMatch(
      /disasterRecovery.failover.availabilityZones\[0\]: got "us-east-1a"; allowed: a zone of drRegion us-west-2, such as us-west-2a/,
    );
    expect(bad((c) => (c.disasterRecovery.failover.availabilityZones = ['us-west-2a']))).toMatch(/disasterRecovery.failover.availabilityZones: .*list at least 2 zones/);
    expect(bad((c) => (c.disasterRecovery.failover.availabilityZones = ['us-west-2a', 'us-west-2a']))).toMatch(/disasterRecovery.failover.availabilityZones: .*zones must be unique/);
    expect(bad((c) => {
      c.disasterRecovery.replication = false;
      delete c.disasterRecovery.backup;
    })).toMatch(/disasterRecovery.failover: .*needs disasterRecovery.replication true/);
  });

  test('-c failover takes true or false', () => {
    expect(failoverContext(undefined, 'dev')).toBe(false);
    expect(failoverContext('false', 'dev')).toBe(false);
    expect(failoverContext('true', 'dev')).toBe(true);
    expect(() => failoverContext('yes', 'dev')).toThrow(/failover: got "yes"; allowed: true or false \(-c failover=true\)/);
  });
});
