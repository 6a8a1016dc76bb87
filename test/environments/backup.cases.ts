import { Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { configWith, synthesizeEnvironment } from '../support/app';
import { templateText } from '../support/template-text';

const text = templateText;
const one = (t: Template, type: string): any => {
  const found = Object.values(t.findResources(type));
  expect(found).toHaveLength(1);
  return found[0];
};

describe.each(['dev', 'prod'])('AWS Backup of %s', (name) => {
  const config = ENVIRONMENTS[name];
  const env = synthesizeEnvironment(config);
  const storage = Template.fromStack(env.platform.storage);
  const dr = Template.fromStack(env.platform.dr!);
  const monitoring = Template.fromStack(env.platform.monitoring);
  const backup = config.disasterRecovery.backup!;
  const accountRegion = `<AWS::AccountId>-${config.primaryRegion}`;

  test('backs up exactly the data the platform cannot recreate: training data, model artifacts, evaluation results, invocation logs', () => {
    const selection = one(storage, 'AWS::Backup::BackupSelection').Properties.BackupSelection;
    const names = selection.Resources.map((r: unknown) => text(r).replace(/^arn:[^:]+:s3:::/, '')).sort();
    expect(names).toEqual(['evaluation-results', 'invocation-logs', 'model-artifacts', 'training-data'].map((p) => `fmft-${name}-${p}-${accountRegion}`));
    // Each is a bucket of this stack, versioned (AWS Backup for S3 needs it).
    const buckets = Object.values(storage.findResources('AWS::S3::Bucket')) as any[];
    for (const n of names) {
      const bucket = buckets.find((b) => text(b.Properties.BucketName) === n);
      expect(bucket?.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    }
    // Left out: the server access logs (the one other bucket here), CloudTrail's and Athena's buckets.
    expect(buckets.map((b) => text(b.Properties.BucketName)).filter((n) => !names.includes(n))).toEqual([`fmft-${name}-access-logs-${accountRegion}`]);
    expect(JSON.stringify(selection)).not.toMatch(/ListOfTags|Conditions/);
  });

  test('continuous backups for the configured days into the environment\u2019s vault, with its own key', () => {
    const rule = one(storage, 'AWS::Backup::BackupPlan').Properties.BackupPlan.BackupPlanRule[0];
    expect(rule.EnableContinuousBackup).toBe(true);
    expect(rule.Lifecycle).toEqual({ DeleteAfterDays: backup.continuousRetentionDays });
    const vault = one(storage, 'AWS::Backup::BackupVault').Properties;
    expect(vault.BackupVaultName).toBe(`fmft-${name}-backup`);
    const alias = Object.values(storage.findResources('AWS::KMS::Alias')).find((a: any) => a.Properties.AliasName === `alias/fmft/${name}/backup`) as any;
    expect(alias.Properties.TargetKeyId).toEqual(vault.EncryptionKeyArn);
  });

  test('the DR stack has the copy\u2019s vault, with its own key; the copy rule names it by region and name', () => {
    const vault = one(dr, 'AWS::Backup::BackupVault').Properties;
    expect(vault.BackupVaultName).toBe(`fmft-${name}-dr-backup`);
    const alias = Object.values(dr.findResources('AWS::KMS::Alias')).find((a: any) => a.Properties.AliasName === `alias/fmft/${name}/dr-backup`) as any;
    expect(alias.Properties.TargetKeyId).toEqual(vault.EncryptionKeyArn);
    const [copy] = one(storage, 'AWS::Backup::BackupPlan').Properties.BackupPlan.BackupPlanRule[0].CopyActions;
    expect(text(copy.DestinationBackupVaultArn)).toBe(`arn:aws:backup:${config.drRegion}:<AWS::AccountId>:backup-vault:${vault.BackupVaultName}`);
    expect(copy.Lifecycle).toEqual({ DeleteAfterDays: backup.drCopy!.retentionDays });
    expect(Object.keys(dr.toJSON().Outputs)).toContain('BackupVaultName');
    expect(Object.keys(storage.toJSON().Outputs)).toEqual(expect.arrayContaining(['BackupVaultName', 'BackupRestoreRoleArn']));
  });

  test(name === 'prod' ? 'both vaults are locked in compliance mode with the configured range' : 'no vault is locked', () => {
    const locks = [one(storage, 'AWS::Backup::BackupVault'), one(dr, 'AWS::Backup::BackupVault')].map((v) => v.Properties.LockConfiguration);
    const expected = backup.vaultLock
      ? { MinRetentionDays: backup.vaultLock.minRetentionDays, MaxRetentionDays: backup.vaultLock.maxRetentionDays, ChangeableForDays: backup.vaultLock.changeableForDays }
      : undefined;
    expect(locks).toEqual([expected, expected]);
    expect(Boolean(backup.vaultLock?.changeableForDays)).toBe(name === 'prod');
  });

  test('failed backup and copy jobs reach the alerts topic, from the monitoring stack', () => {
    const rules = Object.values(monitoring.findResources('AWS::Events::Rule')).filter((r: any) => r.Properties.EventPattern?.source?.[0] === 'aws.backup') as any[];
    expect(rules.map((r) => r.Properties.EventPattern['detail-type'][0]).sort()).toEqual(['Backup Job State Change', 'Copy Job State Change']);
    const alertsTopic = (t: any) => JSON.stringify(t.Arn);
    for (const r of rules) expect(alertsTopic(r.Properties.Targets[0])).toMatch(/AlertsTopic/);
    expect(rules.find((r) => r.Properties.EventPattern.detail.backupVaultName)?.Properties.EventPattern.detail.backupVaultName).toEqual([`fmft-${name}-backup`]);
  });

  test('two roles for AWS Backup (the compliance cases check their trust), and no acknowledgement says backups are missing', () => {
    const roles = Object.values(storage.findResources('AWS::IAM::Role')).filter((r: any) => JSON.stringify(r).includes('backup.amazonaws.com')) as any[];
    expect(roles).toHaveLength(2);
    const reasons = env.report.pluginReports.flatMap((r) => r.suppressedViolations ?? []).map((v) => v.reason ?? '');
    expect(reasons.filter((r) => /backups? (is|are) not|no backup|not backed up/i.test(r))).toEqual([]);
  });
});

describe('AWS Backup switched off', () => {
  const off = synthesizeEnvironment(configWith(ENVIRONMENTS.dev, (c) => delete c.disasterRecovery.backup));

  test('no vault, plan, roles or job alerts anywhere, and the replicas stay', () => {
    for (const raw of Object.values(off.raw) as any[]) {
      expect(Object.values(raw.Resources).filter((r: any) => r.Type.startsWith('AWS::Backup::'))).toEqual([]);
      expect(JSON.stringify(raw)).not.toContain('backup.amazonaws.com');
      expect(JSON.stringify(raw)).not.toContain('aws.backup');
    }
    expect(off.platform.storage.backup).toBeUndefined();
    expect(off.platform.dr?.backupVault).toBeUndefined();
    expect(Object.keys(Template.fromStack(off.platform.dr!).findResources('AWS::S3::Bucket')).length).toBeGreaterThan(0);
  });
});
