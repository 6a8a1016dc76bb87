import { Match, Template } from 'aws-cdk-lib/assertions';
import { STORAGE_LAYOUT } from '../../lib/config/storage-layout';
import { REGISTRY_EXPORT_HANDLER, REGISTRY_EXPORT_SETTINGS_ENV } from '../../lib/constructs/registry-export';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { configWith, synthesizeEnvironment } from '../support/app';
import { stateMachineDefinition } from '../support/state-machine';
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
    // Two for the replicas, one for the vault of the backup copies, one for the copies of Bedrock custom
    // models, one for the DR workflows' logs and alerts.
    expect(Object.keys(dr.findResources('AWS::KMS::Key'))).toHaveLength(5);
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

describe('Bedrock custom models copied to drRegion', () => {
  const bedrock = Template.fromStack(dev.platform.bedrock);
  const machine = Object.values(dr.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
  const asl = stateMachineDefinition(dr);
  const states = asl.States as Record<string, any>;

  test('the primary region sends its own completed customizations (its customization role\u2019s) to the DR region\u2019s default bus', () => {
    const rule = Object.values(bedrock.findResources('AWS::Events::Rule')).find((r: any) => JSON.stringify(r).includes('Model Customization Job State Change')) as any;
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.bedrock'],
      'detail-type': ['Model Customization Job State Change'],
      detail: { jobStatus: ['Completed'], roleArn: [expect.anything()] },
    });
    expect(JSON.stringify(rule.Properties.EventPattern.detail.roleArn)).toMatch(/BedrockCustomizationRole/);
    const [target] = rule.Properties.Targets;
    expect(text(target.Arn)).toBe('arn:aws:events:us-west-2:<AWS::AccountId>:event-bus/default');
    expect(target.DeadLetterConfig).toBeDefined();
    const policies = Object.values(bedrock.findResources('AWS::IAM::ManagedPolicy')).filter((p: any) => JSON.stringify(p).includes('events:PutEvents')) as any[];
    expect(policies).toHaveLength(1);
    expect(policies[0].Properties.PolicyDocument.Statement.map((s: any) => [s.Action, text(s.Resource)])).toEqual([
      ['events:PutEvents', 'arn:aws:events:us-west-2:<AWS::AccountId>:event-bus/default'],
    ]);
  });

  test('the DR region starts a copy only for events forwarded from the primary region, with a dead-letter queue', () => {
    const rule = Object.values(dr.findResources('AWS::Events::Rule'))[0] as any;
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.bedrock'],
      'detail-type': ['Model Customization Job State Change'],
      region: ['us-east-1'],
      account: [{ Ref: 'AWS::AccountId' }],
      detail: { jobStatus: ['Completed'] },
    });
    expect(rule.Properties.Targets[0]).toMatchObject({ DeadLetterConfig: { Arn: expect.anything() }, RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 } });
  });

  test('the workflow: read the event, start the copy (keyed by the job), poll until done, announce a failure', () => {
    expect(asl.StartAt).toBe('ReadEvent');
    expect(states.ReadEvent.Next).toBe('StartCopy');
    expect(states.StartCopy.Resource).toMatch(/:states:::aws-sdk:bedrock:createModelCopyJob$/);
    expect(states.StartCopy.Parameters).toMatchObject({
      'SourceModelArn.$': '$.source.modelArn',
      'TargetModelName.$': '$.source.modelName',
      'ClientRequestToken.$': "States.Hash($.source.jobArn, 'SHA-256')",
    });
    // The key is the only reference in the copy's parameters: the DR stack's Bedrock custom-model key.
    expect(states.StartCopy.Parameters.ModelKmsKeyId).toBe('<token>');
    expect(JSON.stringify(machine.Properties.DefinitionString)).toMatch(/"BedrockCustomModelKey[0-9A-F]{8}","Arn"/);
    expect(states.GetCopy.Resource).toMatch(/:states:::aws-sdk:bedrock:getModelCopyJob$/);
    expect(states['CopyDone?'].Choices.map((c: any) => [c.StringEquals, c.Next])).toEqual([
      ['Completed', 'Copied'],
      ['Failed', 'CopyJobFailed'],
    ]);
    expect(states['CopyDone?'].Default).toBe('WaitForCopy');
    for (const name of ['StartCopy', 'GetCopy']) {
      expect(states[name].Retry.length).toBeGreaterThan(0);
      expect(states[name].Catch.map((c: any) => c.Next)).toEqual(['NotifyCopyFailed']);
    }
    expect(states.CopyJobFailed.Next).toBe('NotifyCopyFailed');
    expect(states.NotifyCopyFailed).toMatchObject({ Resource: expect.stringMatching(/:states:::sns:publish$/), Next: 'CopyFailed' });
    expect(states.CopyFailed.Type).toBe('Fail');
  });

  test('its role may copy only the primary region\u2019s custom models, and use its key only through Bedrock here', () => {
    const policy = Object.values(dr.findResources('AWS::IAM::ManagedPolicy')).find((p: any) => JSON.stringify(p).includes('bedrock:CreateModelCopyJob')) as any;
    const statements = policy.Properties.PolicyDocument.Statement.map((s: any) => ({ actions: [].concat(s.Action), resources: [].concat(s.Resource).map(text), conditions: s.Condition }));
    const copy = statements.find((s: any) => s.actions.includes('bedrock:CreateModelCopyJob'));
    expect(copy.resources).toEqual(['arn:aws:bedrock:us-east-1:<AWS::AccountId>:custom-model/*']);
    const kms = statements.find((s: any) => s.actions.includes('kms:CreateGrant'));
    expect(kms.conditions).toEqual({ StringEquals: { 'kms:ViaService': 'bedrock.us-west-2.amazonaws.com' } });
    expect(statements.flatMap((s: any) => s.actions).filter((a: string) => a.startsWith('bedrock:')).sort()).toEqual([
      'bedrock:CreateModelCopyJob',
      'bedrock:GetCustomModel',
      'bedrock:GetModelCopyJob',
      'bedrock:TagResource',
    ]);
  });

  test('without replication there is nothing to copy into and nothing is forwarded', () => {
    const off = synthesizeEnvironment(configWith(ENVIRONMENTS.dev, (c) => (c.disasterRecovery.replication = false)));
    const rules = Object.values(Template.fromStack(off.platform.bedrock).findResources('AWS::Events::Rule'));
    expect(rules.some((r: any) => JSON.stringify(r).includes('event-bus/default'))).toBe(false);
  });
});
