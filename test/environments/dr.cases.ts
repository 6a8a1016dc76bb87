import { Match, Template } from 'aws-cdk-lib/assertions';
import { STORAGE_LAYOUT } from '../../lib/config/storage-layout';
import { REGISTRY_EXPORT_HANDLER, REGISTRY_EXPORT_SETTINGS_ENV } from '../../lib/constructs/registry-export';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { configWith, synthesizeEnvironment } from '../support/app';
import { templateText } from '../support/template-text';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const storage = Template.fromStack(dev.platform.storage);
const dr = Template.fromStack(dev.platform.dr!);

const text = templateText;
const buckets = (t: Template) => Object.entries(t.findResources('AWS::S3::Bucket')) as [string, any][];

describe('disaster recovery: replicas in drRegion', () => {
  test('the DR stack lives in drRegion, and the storage stack (primary region) deploys after it', () => {
    expect(dev.platform.dr!.region).toBe(ENVIRONMENTS.dev.drRegion);
    expect(dev.platform.dr!.stackName).toBe('fmft-dev-dr');
    expect(dev.platform.storage.region).toBe(ENVIRONMENTS.dev.primaryRegion);
    expect(dev.platform.storage.dependencies.map((s) => s.stackName)).toContain('fmft-dev-dr');
  });

  test('every bucket of the storage stack replicates, and every destination is a bucket of the DR stack with its key alias', () => {
    const replicaNames = buckets(dr).map(([, b]) => text(b.Properties.BucketName));
    const aliases = Object.values(dr.findResources('AWS::KMS::Alias')).map((a: any) => `alias/${String(a.Properties.AliasName).replace(/^alias\//, '')}`);
    const sources = buckets(storage);
    expect(sources.length).toBe(5);
    for (const [id, b] of sources) {
      const rule = b.Properties.ReplicationConfiguration?.Rules?.[0];
      expect({ id, replicated: rule !== undefined }).toEqual({ id, replicated: true });
      const destination = text(rule.Destination.Bucket).replace('arn:<AWS::Partition>:s3:::', '').replace('arn:aws:s3:::', '');
      expect(replicaNames).toContain(destination);
      const key = rule.Destination.EncryptionConfiguration?.ReplicaKmsKeyID;
      if (key) expect(aliases).toContain(text(key).replace(/^.*:(alias\/.*)$/, '$1'));
    }
    // The one replica without a key is the access logs' (SSE-S3, as S3 delivers server access logs).
    expect(sources.filter(([, b]) => !b.Properties.ReplicationConfiguration.Rules[0].Destination.EncryptionConfiguration).map(([id]) => id)).toEqual([
      expect.stringMatching(/^AccessLogsBucket/),
    ]);
  });

  test('replicas are encrypted with the DR region\u2019s own keys, versioned, and kept like their sources', () => {
    for (const [, b] of buckets(dr)) {
      expect(b.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      const encryption = b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault;
      if (encryption.SSEAlgorithm === 'aws:kms') expect(JSON.stringify(encryption.KMSMasterKeyID)).toMatch(/Replica(Data|InvocationLogs)Key/);
    }
    // Two for the replicas, one for the vault of the backup copies.
    expect(Object.keys(dr.findResources('AWS::KMS::Key'))).toHaveLength(3);
  });

  test('no acknowledgement says the DR stack is missing any more; the buckets without a replica say why', () => {
    const reasons = dev.report.pluginReports.flatMap((r) => r.suppressedViolations ?? []).filter((v) => v.ruleName.includes('S3BucketReplicationEnabled'));
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) expect(r.reason ?? '').not.toMatch(/not deployed yet/);
    const why = [...new Set(reasons.map((r) => r.reason))];
    expect(why.every((w) => /replica of .* in the DR region|Trail log files are evidence|Athena query results are copies/.test(w ?? ''))).toBe(true);
  });

  test('each replicated bucket has a latency alarm at the 15-minute objective and a failure alarm, with the metrics\u2019 exact dimensions', () => {
    const monitoring = Template.fromStack(dev.platform.monitoring);
    const alarms = Object.values(monitoring.findResources('AWS::CloudWatch::Alarm')).filter((a: any) => a.Properties.Namespace === 'AWS/S3') as any[];
    expect(alarms).toHaveLength(2 * dev.platform.storage.replicated.length);
    expect(dev.platform.storage.replicated.map((r) => r.label).sort()).toEqual(['accessLogs', 'evaluation', 'invocationLogs', 'modelArtifacts', 'trainingData']);
    const latency = alarms.filter((a) => a.Properties.MetricName === 'ReplicationLatency');
    for (const a of latency) {
      expect(a.Properties).toEqual(expect.objectContaining({ Statistic: 'Maximum', Threshold: 900, Period: 300, EvaluationPeriods: 3, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching' }));
    }
    const failed = alarms.filter((a) => a.Properties.MetricName === 'OperationsFailedReplication');
    expect(failed).toHaveLength(latency.length);
    for (const a of [...latency, ...failed]) {
      const dims = Object.fromEntries(a.Properties.Dimensions.map((d: any) => [d.Name, text(d.Value)]));
      expect(Object.keys(dims).sort()).toEqual(['DestinationBucket', 'RuleId', 'SourceBucket']);
      expect(dims.RuleId).toBe('ToDisasterRecoveryRegion');
      expect(dims.DestinationBucket).toMatch(/^fmft-dev-dr-.*-<AWS::AccountId>-us-west-2$/);
      expect(a.Properties.AlarmActions).toHaveLength(1);
      expect(a.Properties.AlarmName).toMatch(/^fmft-dev-(training-data|model-artifacts|evaluation|invocation-logs|access-logs)-replication-(latency|failed)$/);
    }
  });

  test('with disasterRecovery.replication off there is no DR stack, and each bucket says so', () => {
    const off = synthesizeEnvironment(configWith(ENVIRONMENTS.dev, (c) => (c.disasterRecovery.replication = false)));
    expect(off.platform.dr).toBeUndefined();
    expect(JSON.stringify(Template.fromStack(off.platform.storage).toJSON())).not.toContain('ReplicationConfiguration');
    const reasons = off.report.pluginReports.flatMap((r) => r.suppressedViolations ?? []).filter((v) => v.ruleName.includes('S3BucketReplicationEnabled'));
    expect(reasons.some((r) => /disasterRecovery.replication is off for dev/.test(r.reason ?? ''))).toBe(true);
    expect(off.platform.registry.registryExport).toBeUndefined();
  });
});

describe('the model registry as replicated data (registry export)', () => {
  const registry = Template.fromStack(dev.platform.registry);
  const fn = Object.values(registry.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Handler === REGISTRY_EXPORT_HANDLER) as any;
  const exportPrefix = STORAGE_LAYOUT.modelArtifacts.prefixes.registryExports;
  const group = 'fmft-dev-fine-tuning-models';

  test('a function exports every state change of the group’s versions, with the group and the artifacts bucket as settings', () => {
    expect(fn).toBeDefined();
    const settings = text(fn.Properties.Environment.Variables[REGISTRY_EXPORT_SETTINGS_ENV]);
    expect(settings).toContain(`"modelPackageGroupName":"${group}"`);
    expect(settings).toMatch(/"artifactsBucket":"<?.*ModelArtifactsBucket/);
    registry.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.sagemaker'], 'detail-type': ['SageMaker Model Package State Change'], detail: { ModelPackageGroupName: [group] } },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: { MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 4 } })],
    });
  });

  test('its role may describe the group’s versions and write under the export prefix, nothing more in S3 or SageMaker', () => {
    const policies = Object.values(registry.findResources('AWS::IAM::ManagedPolicy')).filter((p: any) => JSON.stringify(p).includes('Writes each version of'));
    const statements = policies.flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const actions = (s: any) => [].concat(s.Action);
    const s3 = statements.filter((s) => actions(s).some((a: string) => a.startsWith('s3:')));
    const sagemaker = statements.filter((s) => actions(s).some((a: string) => a.startsWith('sagemaker:')));
    expect(sagemaker.map((s) => [actions(s), text([].concat(s.Resource)[0])])).toEqual([[['sagemaker:DescribeModelPackage'], expect.stringMatching(new RegExp(`:model-package/${group}/\\*$`))]]);
    expect(s3.length).toBeGreaterThan(0);
    expect(s3.flatMap(actions).every((a: string) => /^s3:(PutObject|Abort|ListMultipart)/.test(a))).toBe(true);
    for (const s of s3) for (const r of [].concat(s.Resource)) expect(text(r)).toMatch(new RegExp(`/${exportPrefix}\\*$`));
  });

  test('the DR stack says which replica holds which primary bucket (ReplicaBuckets), for the restore', () => {
    const value = text(dr.toJSON().Outputs.ReplicaBuckets.Value).replace(/<AWS::AccountId>/g, '111122223333');
    const purposes = ['training-data', 'model-artifacts', 'evaluation-results', 'invocation-logs'];
    expect(JSON.parse(value)).toEqual(
      Object.fromEntries(purposes.map((p) => [`fmft-dev-${p}-111122223333-us-east-1`, `fmft-dev-dr-${p}-111122223333-us-west-2`])),
    );
    expect(text(dr.toJSON().Outputs.ModelArtifactsReplicaName.Value)).toMatch(/ModelArtifactsReplica/);
  });

  test('the primary bucket names the output maps from are the storage stack’s own', () => {
    const value = text(dr.toJSON().Outputs.ReplicaBuckets.Value);
    for (const [, b] of buckets(storage).filter(([id]) => !id.startsWith('AccessLogs'))) expect(value).toContain(`"${text(b.Properties.BucketName)}"`);
  });
});
