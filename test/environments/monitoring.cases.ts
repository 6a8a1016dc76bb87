import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { MONITORING_METRICS, THRESHOLD_METRICS } from '../../lib/config/monitoring-metrics';
import { SERVING_MANIFEST_KEY, STORAGE_LAYOUT } from '../../lib/config/storage-layout';
import { AccessLogBucket } from '../../lib/constructs/access-log-bucket';
import { iam5ResourceFinding } from '../../lib/constructs/compliance';
import { MlBucket } from '../../lib/constructs/ml-bucket';
import { BEDROCK_VARIANT, CaptureMonitor, CaptureMonitorProps, MONITOR_STATE_NAMES } from '../../lib/constructs/monitoring/capture-monitor';
import { SHARED_ENDPOINT_VARIANT } from '../../lib/constructs/shared-model-endpoint';
import { jobCodeInputs } from '../../lib/pipeline/job-code';
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { configWith, synthesizeEnvironment, testStack, unacknowledgedFindings } from '../support/app';
import { stateMachineDefinition } from '../support/state-machine';
import { modelMonitorAnalyzerImage } from '../../lib/config/model-monitor-images';
import { validateEnvironmentConfig } from '../../lib/config/validate';
import { MotoServer, motoClientConfig, startMoto } from '../support/moto';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const prodConfig = loadEnvironmentConfig('prod', FIXTURE);
const prod = synthesizeEnvironment(prodConfig);
const tpl = Template.fromStack(prod.platform.monitoring);
const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const devTpl = Template.fromStack(dev.platform.monitoring);
const targets = prod.platform.monitoring.monitor.alarms;

/** The state machine's definition with its tokens replaced by '<token>', parsed. */
const definition = (template: Template): any => stateMachineDefinition(template);
const states = (template: Template) => definition(template).States[MONITOR_STATE_NAMES.targets].ItemProcessor.States;

/** Every statement of the managed policy whose logical id starts with `prefix`. */
function statements(template: Template, prefix: string): any[] {
  const policies = Object.entries(template.findResources('AWS::IAM::ManagedPolicy')).filter(([id]) => id.startsWith(prefix));
  expect(policies).toHaveLength(1);
  return (policies[0][1] as any).Properties.PolicyDocument.Statement;
}
const actionsOf = (s: any) => [s.Action].flat();

/** The planner's FMFT_MONITOR_SETTINGS, with each token replaced by 'TOKEN'. */
function plannerSettings(template: Template): any {
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Handler === 'training.monitor.plan.handler') as any;
  return JSON.parse(fn.Properties.Environment.Variables.FMFT_MONITOR_SETTINGS['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
}

describe('monitoring stack', () => {
  test('exists in every environment and watches each A/B variant (with its version) and the shared endpoint', () => {
    expect(dev.raw['fmft-dev-monitoring']).toBeDefined();
    expect(prod.platform.monitoring.monitor).toBeDefined();
    expect(prod.platform.endpoints!.monitorTargets).toEqual([
      ...prodConfig.serving.variants.map((v) => ({ endpointName: 'fmft-prod-llm', variantName: v.name, modelPackageArn: v.modelPackageArn })),
      { endpointName: 'fmft-prod-llm-shared', variantName: SHARED_ENDPOINT_VARIANT },
    ]);
    const payload = definition(tpl).States[MONITOR_STATE_NAMES.plan].Parameters;
    expect(payload.targets).toEqual(prod.platform.endpoints!.monitorTargets);
    expect(definition(devTpl).States[MONITOR_STATE_NAMES.plan].Parameters.targets).toEqual([]);
    expect(payload['scheduledTime.$']).toBe('$.scheduledTime');
  });

  test('the monitor job is network isolated in the processing subnets, encrypted, and ends before the next run', () => {
    const job = states(tpl)[MONITOR_STATE_NAMES.monitor];
    expect(job.Resource).toMatch(/:states:::sagemaker:createProcessingJob\.sync$/);
    const p = job.Parameters;
    expect(p.NetworkConfig).toEqual({
      EnableNetworkIsolation: true,
      EnableInterContainerTrafficEncryption: true,
      VpcConfig: { Subnets: expect.any(Array), SecurityGroupIds: [expect.anything()] },
    });
    expect(p.ProcessingResources.ClusterConfig).toMatchObject({ InstanceType: prodConfig.monitoring.instanceType, InstanceCount: 1, VolumeKmsKeyId: '<token>' });
    expect(p.ProcessingOutputConfig.KmsKeyId).toBe('<token>');
    expect(p.StoppingCondition.MaxRuntimeInSeconds).toBe(prodConfig.monitoring.intervalHours * 3600);
    expect(p['ProcessingInputs.$']).toBe('$.run.inputs');
    expect(p.AppSpecification['ContainerArguments.$']).toMatch(/'training\.monitor', 'run', .*'--endpoint-name', \$\.run\.endpointName, '--variant-name', \$\.run\.variantName/);
    expect(p.AppSpecification['ContainerArguments.$']).not.toMatch(/--expect-json/);
    expect(job.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: MONITOR_STATE_NAMES.targetFailed }]);
  });

  test("the job's command, as the state machine builds it, runs the Python monitor with the environment's thresholds", () => {
    const intrinsic: string = states(tpl)[MONITOR_STATE_NAMES.monitor].Parameters.AppSpecification['ContainerArguments.$'];
    const items = [...intrinsic.replace(/^States\.Array\(|\)$/g, '').matchAll(/'([^']*)'|(\$[.\w]+)/g)].map((m) => m[1] ?? m[2]);
    const [, module, ...args] = items;
    expect(module).toBe('training.monitor');
    const thresholds = args.slice(args.indexOf('--thresholds') + 1);
    expect(thresholds).toEqual([...THRESHOLD_METRICS.keys()].map((k) => `${k}=${prodConfig.monitoring.thresholds[k]}`));

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monitor-command-'));
    const local = (a: string) =>
      ({ '$.run.endpointName': 'fmft-prod-llm', '$.run.variantName': 'current', '$.windowStart': '2026-11-29T09:00:00Z', '$.windowEnd': '2026-11-29T10:00:00Z' })[a] ??
      a.replace('/opt/ml/processing', dir);
    execFileSync(path.join(__dirname, '..', '..', '.venv', 'bin', 'python'), ['-m', module, ...args.map(local)], { cwd: path.join(__dirname, '..', '..'), stdio: 'pipe' });
    const metrics = JSON.parse(fs.readFileSync(path.join(dir, 'output', 'monitor', 'metrics.json'), 'utf8')).MetricData;
    expect(metrics.map((m: any) => [m.MetricName, m.Value])).toEqual(
      expect.arrayContaining([
        ['MonitorRun', 1],
        ['CapturedRecords', 0],
        ['BaselineMissing', 1],
      ]),
    );
    expect(metrics[0].Dimensions).toEqual([
      { Name: 'EndpointName', Value: 'fmft-prod-llm' },
      { Name: 'VariantName', Value: 'current' },
    ]);
  });

  test('metrics.json is read from the monitoring prefix and published under the environment namespace; an empty window still reports a run', () => {
    const s = states(tpl);
    expect(s[MONITOR_STATE_NAMES.readMetrics].Parameters).toEqual({ 'Bucket.$': '$.run.outputBucket', 'Key.$': '$.run.metricsKey' });
    expect(s[MONITOR_STATE_NAMES.publish].Parameters).toEqual({ Namespace: 'FineTuningPlatform/prod', 'MetricData.$': '$.read.metrics.MetricData' });
    expect(s[MONITOR_STATE_NAMES.publishEmpty].Parameters.MetricData.map((m: any) => [m.MetricName, m.Value])).toEqual([
      ['MonitorRun', 1],
      ['CapturedRecords', 0],
    ]);
  });

  test('the state machine role: jobs with the monitor prefix only, results read-only, metrics in its namespace only', () => {
    const st = statements(tpl, 'CaptureMonitorRole');
    const jobs = st.find((s) => actionsOf(s).includes('sagemaker:CreateProcessingJob'));
    expect(JSON.stringify(jobs.Resource)).toContain(':processing-job/fmft-prod-mon-*');
    const metrics = st.find((s) => actionsOf(s).includes('cloudwatch:PutMetricData'));
    expect(metrics.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'FineTuningPlatform/prod' } });
    const read = st.find((s) => actionsOf(s).includes('s3:GetObject'));
    expect(actionsOf(read)).toEqual(['s3:GetObject']);
    expect(JSON.stringify(read.Resource)).toContain(`/${STORAGE_LAYOUT.evaluation.prefixes.monitoring}*`);
    expect(st.some((s) => actionsOf(s).some((a: string) => /^s3:(Put|Delete)/.test(a)))).toBe(false);
  });

  test('the monitor job role reads capture, baselines and the canary answers, and writes only its results', () => {
    const st = statements(tpl, 'MonitorJobRole');
    const writes = st.filter((s) => actionsOf(s).includes('s3:PutObject'));
    expect(writes).toHaveLength(1);
    expect(JSON.stringify(writes[0].Resource)).toContain(`/${STORAGE_LAYOUT.evaluation.prefixes.monitoring}*`);
    const reads = st.filter((s) => actionsOf(s).includes('s3:GetObject')).flatMap((s) => [s.Resource].flat().map((r: unknown) => JSON.stringify(r)));
    expect(reads.some((r) => r.includes(`/${STORAGE_LAYOUT.modelArtifacts.prefixes.dataCapture}*`))).toBe(true);
    expect(reads.some((r) => r.includes(`/${STORAGE_LAYOUT.trainingData.prefixes.processed}*`))).toBe(true);
    // The canary function writes the answers under the monitoring prefix; the job reads them as its input.
    expect(reads.some((r) => r.includes(`/${STORAGE_LAYOUT.evaluation.prefixes.monitoring}*`))).toBe(true);
    // Bedrock provisioned models: their invocation logs and their runs' baselines.
    expect(reads.some((r) => r.includes('/bedrock-invocations/*'))).toBe(true);
    expect(reads.some((r) => r.includes('/evaluation/reports/bedrock/*'))).toBe(true);
    // Ground truth the application uploaded, joined with the capture by inference id.
    expect(reads.some((r) => r.includes(`/${STORAGE_LAYOUT.evaluation.prefixes.groundTruth}*`))).toBe(true);
    expect(reads).toHaveLength(6);
  });

  test('the planner lists the capture prefix and describes the served versions; its settings carry the job code inputs', () => {
    const st = statements(tpl, 'PlannerRole');
    const describe = st.find((s) => actionsOf(s).includes('sagemaker:DescribeModelPackage'));
    // The configured versions, and those the promotion put in production since (see the serving manifest).
    expect([describe.Resource].flat()).toEqual(expect.arrayContaining([...new Set(prodConfig.serving.variants.map((v) => v.modelPackageArn))]));
    const list = st.find((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': [`${STORAGE_LAYOUT.modelArtifacts.prefixes.dataCapture}*`] } });
    // It reads only the baselines of Bedrock runs (the test split they name is the canary's golden set) and the
    // serving manifest.
    const reads = st.filter((s) => actionsOf(s).includes('s3:GetObject')).flatMap((s) => [s.Resource].flat().map((r: unknown) => JSON.stringify(r)));
    expect(reads).toHaveLength(2);
    expect(reads).toEqual(
      expect.arrayContaining([
        expect.stringContaining('/evaluation/reports/bedrock/*'),
        expect.stringContaining(`/${STORAGE_LAYOUT.modelArtifacts.prefixes.servingManifests}*`),
      ]),
    );
    const fn = Object.values(tpl.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Handler === 'training.monitor.plan.handler') as any;
    const settings = JSON.parse(
      fn.Properties.Environment.Variables.FMFT_MONITOR_SETTINGS['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join(''),
    );
    expect(settings).toMatchObject({ intervalHours: 1, jobNamePrefix: 'fmft-prod' });
    expect(settings.codeInputs.map((i: any) => i.S3Input.LocalPath)).toEqual(jobCodeInputs(prod.platform.training.code.jobCode).map((i) => i.S3Input.LocalPath));
  });

  test('the schedule starts a run ten minutes past every interval with the scheduled time, through a role scoped to it', () => {
    tpl.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'fmft-prod-capture-monitor',
      ScheduleExpression: 'cron(10 * * * ? *)',
      Target: Match.objectLike({
        Input: JSON.stringify({ scheduledTime: '<aws.scheduler.scheduled-time>' }),
        DeadLetterConfig: { Arn: Match.anyValue() },
        RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 3 }),
      }),
    });
    devTpl.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(10 0/6 * * ? *)' });
    tpl.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': Match.anyValue() } }),
          }),
        ],
      },
    });
  });

  test('per target: one alarm per configured threshold and one for a monitor that stopped reporting, all to the alerts topic', () => {
    const perTarget = THRESHOLD_METRICS.size - (prodConfig.monitoring.answersAreJson ? 0 : 1) + 1;
    const served = prod.platform.endpoints!.monitorTargets.length;
    const bedrock = [...THRESHOLD_METRICS.values()].filter((m) => (m.kind === 'drift' || m.kind === 'health') && m.name !== 'InvalidJsonRate').length;
    expect(targets.size).toBe(served * perTarget + bedrock + 1);
    for (const [key, metric] of THRESHOLD_METRICS) {
      if (metric.name === 'InvalidJsonRate') continue;
      tpl.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'FineTuningPlatform/prod',
        MetricName: metric.name,
        Dimensions: [
          { Name: 'EndpointName', Value: 'fmft-prod-llm' },
          { Name: 'VariantName', Value: 'current' },
        ],
        Threshold: prodConfig.monitoring.thresholds[key],
        ComparisonOperator: metric.alarmBelow ? 'LessThanThreshold' : 'GreaterThanThreshold',
        Period: 300,
        TreatMissingData: 'ignore',
        AlarmActions: [Match.anyValue()],
      });
    }
    tpl.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'MonitorRun',
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    // No endpoint in dev: no per-target alarm, only the state machine's own and the Bedrock models' queries.
    expect(Object.keys(devTpl.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('CaptureMonitor') && !id.startsWith('CaptureMonitorBedrock'))).toEqual([
      expect.stringMatching(/^CaptureMonitorRunFailed/),
    ]);
  });

  test('every alarm and dashboard series names a metric of the shared contract', () => {
    const names = new Set(MONITORING_METRICS.map((m) => m.name));
    for (const alarm of Object.values(tpl.findResources('AWS::CloudWatch::Alarm')) as any[]) {
      if (alarm.Properties.Namespace === 'FineTuningPlatform/prod') expect(names).toContain(alarm.Properties.MetricName);
    }
    const [dashboard] = Object.values(tpl.findResources('AWS::CloudWatch::Dashboard')) as any[];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const m of MONITORING_METRICS) expect(body).toContain(`\\"${m.name}\\"`);
    for (const stat of ['p50', 'p90', 'p99', 'Invocation4XXErrors', 'Invocation5XXErrors']) expect(body).toContain(stat);
  });

  test('captured data expires after monitoring.captureRetentionDays', () => {
    Template.fromStack(prod.platform.storage).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: STORAGE_LAYOUT.modelArtifacts.prefixes.dataCapture, ExpirationInDays: prodConfig.monitoring.captureRetentionDays }),
        ]),
      },
    });
  });
});

describe("the staged promotion's serving manifest", () => {
  const manifests = STORAGE_LAYOUT.modelArtifacts.prefixes.servingManifests;
  const group = prod.platform.pipelines.fineTuning.modelPackageGroup.modelPackageGroupName!;

  test("the planner takes each A/B variant's version from it: its settings name it, its role reads it and describes the group's versions", () => {
    expect(SERVING_MANIFEST_KEY.startsWith(manifests)).toBe(true);
    expect(plannerSettings(tpl)).toMatchObject({ manifestBucket: 'TOKEN', manifestKey: SERVING_MANIFEST_KEY, manifestEndpointName: 'fmft-prod-llm' });
    const st = statements(tpl, 'PlannerRole');
    const reads = st.filter((s) => actionsOf(s).includes('s3:GetObject')).flatMap((s) => [s.Resource].flat().map((r: unknown) => JSON.stringify(r)));
    expect(reads.filter((r) => r.includes(`/${manifests}*`))).toHaveLength(1);
    // Listing tells a missing manifest from a denied one (the grants limit ListBucket by prefix).
    const lists = st.filter((s) => actionsOf(s).includes('s3:ListBucket')).map((s) => s.Condition.StringLike['s3:prefix']);
    expect(lists).toContainEqual([`${manifests}*`]);
    // The promotion may serve any version of the group; nothing else of the registry.
    const describe = st.find((s) => actionsOf(s).includes('sagemaker:DescribeModelPackage'));
    const resources = [describe.Resource].flat().map((r: unknown) => JSON.stringify(r));
    expect(resources.filter((r) => r.includes('*'))).toEqual([expect.stringContaining(`:model-package/${group}/*`)]);
    // Its cdk-nag acknowledgement names exactly that resource and matches a finding; nothing else is found.
    const planner = prod.platform.monitoring.node.findChild('Planner');
    const role = planner.node.findAll().find((c) => c instanceof iam.Role)!;
    const versions = prod.platform.monitoring.formatArn({ service: 'sagemaker', resource: 'model-package', resourceName: `${group}/*` });
    const suppressed = prod.report.pluginReports.flatMap((p) => p.suppressedViolations ?? []);
    const acknowledged = suppressed.filter((v) => v.acknowledgedId === iam5ResourceFinding(role, versions)).map((v) => v.acknowledgedAt);
    expect(acknowledged).toContainEqual(expect.stringContaining('/Planner/'));
    const findings = prod.report.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
    expect(findings.filter((f) => f.includes('/Planner/'))).toEqual([]);
  });

  test('without serving.promotion, or without an A/B endpoint, the planner reads no manifest and describes only the configured versions', () => {
    const none = Template.fromStack(synthesizeEnvironment(configWith(prodConfig, (c) => delete c.serving.promotion)).platform.monitoring);
    for (const template of [none, devTpl]) {
      const settings = plannerSettings(template);
      expect([settings.manifestBucket, settings.manifestKey, settings.manifestEndpointName]).toEqual([undefined, undefined, undefined]);
      const st = statements(template, 'PlannerRole');
      expect(st.some((s) => JSON.stringify(s).includes(manifests))).toBe(false);
      expect(st.some((s) => JSON.stringify(s).includes(':model-package/'))).toBe(template === none);
    }
    const describe = statements(none, 'PlannerRole').find((s) => actionsOf(s).includes('sagemaker:DescribeModelPackage'));
    expect([describe.Resource].flat().sort()).toEqual([...new Set(prodConfig.serving.variants.map((v) => v.modelPackageArn))].sort());
  });
});

describe('quality canary', () => {
  test('each target with a served version is asked the golden prompts before its monitor job, which scores them', () => {
    const s = states(tpl);
    const choice = s.HasCanary;
    expect(choice.Choices[0].Next).toBe(MONITOR_STATE_NAMES.canary);
    expect(choice.Default).toBe(MONITOR_STATE_NAMES.monitor);
    const ask = s[MONITOR_STATE_NAMES.canary];
    expect(ask.Next).toBe(MONITOR_STATE_NAMES.monitor);
    expect(ask.Parameters).toMatchObject({
      'endpointName.$': '$.run.endpointName',
      'variantName.$': '$.run.variantName',
      container: prodConfig.serving.container,
      maxNewTokens: prodConfig.monitoring.canary!.maxNewTokens,
      'canary.$': '$.run.canary',
      'modelId.$': '$.run.modelId',
    });
    expect(ask.Catch[0].Next).toBe(MONITOR_STATE_NAMES.targetFailed);
    expect(s[MONITOR_STATE_NAMES.monitor].Parameters.AppSpecification['ContainerArguments.$']).toContain(
      `'--canary', '/opt/ml/processing/input/canary', '--canary-task', '${prodConfig.monitoring.canary!.task}'`,
    );
  });

  test('the canary function may invoke only the served A/B endpoint, read prepared data and write monitor results', () => {
    const st = statements(tpl, 'CanaryRole');
    const invoke = st.filter((x) => actionsOf(x).includes('sagemaker:InvokeEndpoint'));
    expect(invoke).toHaveLength(1);
    expect(JSON.stringify(invoke[0].Resource)).toContain(':endpoint/fmft-prod-llm"');
    expect(JSON.stringify(invoke[0].Resource)).not.toContain('llm-shared');
    const writes = st.filter((x) => actionsOf(x).includes('s3:PutObject'));
    expect(writes.map((w) => JSON.stringify(w.Resource))).toEqual([expect.stringContaining(`/${STORAGE_LAYOUT.evaluation.prefixes.monitoring}*`)]);
    const reads = st.filter((x) => actionsOf(x).includes('s3:GetObject'));
    expect(reads.map((r) => JSON.stringify(r.Resource))).toEqual([expect.stringContaining(`/${STORAGE_LAYOUT.trainingData.prefixes.processed}*`)]);
    // Bedrock provisioned models of the environment, through Converse, and their custom model key via Bedrock only.
    const bedrock = st.find((x) => actionsOf(x).includes('bedrock:InvokeModel'));
    expect(actionsOf(bedrock)).toEqual(['bedrock:InvokeModel']);
    expect(JSON.stringify(bedrock.Resource)).toContain(':provisioned-model/*');
    expect(JSON.stringify(bedrock.Resource)).toContain(':custom-model/*');
    const key = st.find((x) => actionsOf(x).includes('kms:Decrypt') && x.Condition?.StringEquals?.['kms:ViaService']);
    expect(key).toBeDefined();
  });

  test('the planner learns the canary settings; without a canary none of it exists', () => {
    const fn = Object.values(tpl.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Handler === 'training.monitor.plan.handler') as any;
    const text = fn.Properties.Environment.Variables.FMFT_MONITOR_SETTINGS['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join('');
    expect(JSON.parse(text).canary).toEqual({ records: prodConfig.monitoring.canary!.records, task: prodConfig.monitoring.canary!.task, goldenSetUri: null });
    const off = synthesizeEnvironment(configWith(prodConfig, (c) => delete c.monitoring.canary));
    const offTpl = Template.fromStack(off.platform.monitoring);
    expect(states(offTpl).HasCanary).toBeUndefined();
    expect(Object.values(offTpl.findResources('AWS::Lambda::Function')).map((f: any) => f.Properties.Handler)).not.toContain('training.monitor.canary.handler');
  });

  test.each<[string, (c: any) => void, RegExp]>([
    ['a golden set outside the training data prefixes', (c) => (c.monitoring.canary.goldenSetKey = 'models/golden.jsonl'), /monitoring\.canary\.goldenSetKey: got "models\/golden\.jsonl"; allowed: a \.jsonl key under training-data\/processed\//],
    ['a canary without the runtime endpoint in isolated subnets', (c) => (c.network.interfaceEndpoints = c.network.interfaceEndpoints.filter((e: string) => e !== 'sagemaker-runtime')), /monitoring\.canary: .*'sagemaker-runtime' interface endpoint/],
    [
      'a canary without the Bedrock runtime endpoint while Bedrock is watched',
      (c) => (c.network.interfaceEndpoints = c.network.interfaceEndpoints.filter((e: string) => e !== 'bedrock-runtime')),
      /monitoring\.canary: .*'bedrock-runtime' interface endpoint/,
    ],
    ['a perplexity canary', (c) => (c.monitoring.canary.task = 'perplexity'), /monitoring\.canary\.task: got "perplexity"; allowed: classification, summarization, qa/],
  ])('%s is refused at synth', (_name, change, message) => {
    expect(() => validateEnvironmentConfig(configWith(prodConfig, change))).toThrow(message);
  });
});

describe('Bedrock provisioned models', () => {
  const settingsOf = (template: Template) => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Handler === 'training.monitor.plan.handler') as any;
    const parts = fn.Properties.Environment.Variables.FMFT_MONITOR_SETTINGS['Fn::Join'][1];
    return JSON.parse(parts.map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
  };

  test("the planner finds them (their runs carry the model's id) and reads their invocation logs and run baselines", () => {
    const bedrock = settingsOf(tpl).bedrock;
    expect(bedrock.namePrefix).toBe('fmft-prod');
    expect(bedrock.invocationLogsUri).toMatch(/^s3:\/\/TOKEN\/bedrock-invocations\/AWSLogs\/TOKEN\/BedrockModelInvocationLogs\/us-east-1\/$/);
    expect(bedrock.reportsUri).toMatch(/\/evaluation\/reports\/bedrock\/$/);
    const planner = statements(tpl, 'PlannerRole');
    expect(planner.find((x) => actionsOf(x).includes('bedrock:ListProvisionedModelThroughputs')).Resource).toBe('*');
    const lists = planner.filter((x) => actionsOf(x).includes('s3:ListBucket')).map((x) => x.Condition.StringLike['s3:prefix']);
    expect(lists).toEqual(expect.arrayContaining([['bedrock-invocations/*'], ['evaluation/reports/bedrock/*']]));
    const job = statements(tpl, 'MonitorJobRole').filter((x) => actionsOf(x).includes('s3:GetObject')).flatMap((x) => [x.Resource].flat().map((r: unknown) => JSON.stringify(r)));
    expect(job.some((r) => r.includes('/bedrock-invocations/*'))).toBe(true);
    expect(states(tpl)[MONITOR_STATE_NAMES.monitor].Parameters.AppSpecification['ContainerArguments.$']).toContain("'--model-id', $.run.modelId");
  });

  test('their alarms are Metrics Insights queries over every Bedrock model, one per drift and health threshold', () => {
    const alarms = Object.entries(tpl.findResources('AWS::CloudWatch::Alarm')).filter(([id]) => id.startsWith('CaptureMonitorBedrock'));
    const expected = [...THRESHOLD_METRICS.values()].filter((m) => (m.kind === 'drift' || m.kind === 'health') && m.name !== 'InvalidJsonRate');
    expect(alarms).toHaveLength(expected.length);
    for (const m of expected) {
      tpl.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: [
          Match.objectLike({
            Expression: `SELECT MAX(${m.name}) FROM SCHEMA("FineTuningPlatform/prod", EndpointName, VariantName) WHERE VariantName = '${BEDROCK_VARIANT}'`,
          }),
        ],
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [Match.anyValue()],
      });
    }
  });

  test('the TypeScript and Python sides name the Bedrock variant alike', () => {
    const plan = fs.readFileSync(path.join(__dirname, '..', '..', 'training', 'monitor', 'plan.py'), 'utf8');
    expect(plan).toMatch(new RegExp(`^BEDROCK_VARIANT = "${BEDROCK_VARIANT}"$`, 'm'));
  });

  test('without a route to the Bedrock API (no NAT, no bedrock interface endpoint) none of it exists', () => {
    const isolated = synthesizeEnvironment(configWith(prodConfig, (c) => (c.network.interfaceEndpoints = c.network.interfaceEndpoints.filter((e: string) => e !== 'bedrock'))));
    const t = Template.fromStack(isolated.platform.monitoring);
    expect(settingsOf(t).bedrock).toBeNull();
    expect(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('CaptureMonitorBedrock'))).toEqual([]);
  });

  test('a Bedrock run writes its baseline beside its reports', () => {
    const bedrockTpl = Template.fromStack(prod.platform.bedrock);
    const prepare = Object.entries(bedrockTpl.findResources('AWS::IAM::ManagedPolicy')).find(([id]) => id.startsWith('PrepareRole'))![1] as any;
    const writes = prepare.Properties.PolicyDocument.Statement.filter((x: any) => actionsOf(x).includes('s3:PutObject'));
    expect(writes.map((w: any) => JSON.stringify(w.Resource))).toEqual([expect.stringContaining('/evaluation/reports/bedrock/*')]);
  });
});

describe('ground truth joined by inference id', () => {
  test('the job joins uploaded ground truth with the capture of its request hours; the planner lists it and writes the manifests', () => {
    const args = states(tpl)[MONITOR_STATE_NAMES.monitor].Parameters.AppSpecification['ContainerArguments.$'];
    expect(args).toContain(
      `'--ground-truth', '/opt/ml/processing/input/ground-truth', '--ground-truth-capture', '/opt/ml/processing/input/ground-truth-capture', '--ground-truth-task', '${prodConfig.monitoring.groundTruth!.task}'`,
    );
    const planner = statements(tpl, 'PlannerRole');
    const lists = planner.filter((x) => actionsOf(x).includes('s3:ListBucket')).map((x) => x.Condition.StringLike['s3:prefix']);
    expect(lists).toEqual(expect.arrayContaining([[`${STORAGE_LAYOUT.evaluation.prefixes.groundTruth}*`]]));
    const writes = planner.filter((x) => actionsOf(x).includes('s3:PutObject')).map((x) => JSON.stringify(x.Resource));
    expect(writes).toEqual([expect.stringContaining(`/${STORAGE_LAYOUT.evaluation.prefixes.monitoring}*`)]);
  });

  test('without ground truth in the config the job gets no flags and the planner no settings', () => {
    const off = synthesizeEnvironment(configWith(prodConfig, (c) => delete c.monitoring.groundTruth));
    const t = Template.fromStack(off.platform.monitoring);
    expect(states(t)[MONITOR_STATE_NAMES.monitor].Parameters.AppSpecification['ContainerArguments.$']).not.toContain('--ground-truth');
    expect(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).some((id) => id.includes('GroundTruth'))).toBe(false);
  });
});

describe('CaptureMonitor props', () => {
  function make(change: Partial<CaptureMonitorProps>): () => void {
    return () => {
      const stack: Stack = testStack();
      const key = new kms.Key(stack, 'Key');
      const accessLogs = new AccessLogBucket(stack, 'AccessLogs', { expirationDays: 30, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } }).bucket;
      const bucket = new MlBucket(stack, 'Results', { encryptionKey: key, accessLogsBucket: accessLogs, noncurrentVersionExpirationDays: 1, abortIncompleteUploadDays: 1, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } });
      const thresholds = Object.fromEntries([...THRESHOLD_METRICS.keys()].map((k) => [k, 0.2]));
      new CaptureMonitor(stack, 'Monitor', {
        stateMachineName: 'fmft-dev-capture-monitor',
        jobNamePrefix: 'fmft-dev',
        planFunction: lambda.Function.fromFunctionArn(stack, 'Plan', 'arn:aws:lambda:us-east-1:123456789012:function:plan'),
        targets: [{ endpointName: 'e', variantName: 'v' }],
        intervalHours: 1,
        job: {
          imageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/images:processing',
          role: iam.Role.fromRoleArn(stack, 'JobRole', 'arn:aws:iam::123456789012:role/job'),
          code: { archiveS3Uri: 's3://b/code.gz', archiveFileName: 'code.gz', launcherS3Uri: 's3://b/run.py', launcherFileName: 'run.py' },
          instanceType: 'ml.m5.xlarge',
          placement: { subnetIds: ['subnet-1'], securityGroupIds: ['sg-1'] },
          key,
        },
        outputBucket: bucket,
        outputPrefix: 'evaluation/monitoring/',
        answersAreJson: false,
        metricNamespace: 'FineTuningPlatform/dev',
        thresholds,
        topic: new sns.Topic(stack, 'Topic'),
        deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
        logKey: key,
        logRetention: 30,
        tags: {},
        ...change,
      });
    };
  }

  test('valid props build', () => expect(make({})).not.toThrow());
  test.each<[string, Partial<CaptureMonitorProps>, RegExp]>([
    ['interval beyond the input limit', { intervalHours: 7 }, /intervalHours: got 7; allowed: a whole number from 1 to 6/],
    ['a target twice', { targets: [{ endpointName: 'e', variantName: 'v' }, { endpointName: 'e', variantName: 'v' }] }, /targets\[1\]: e\/v is listed twice/],
    ['a missing threshold', { thresholds: { promptLengthPsi: 0.2 } }, /thresholds\.refusalRate: got undefined/],
    ['an unknown threshold', { thresholds: { ...Object.fromEntries([...THRESHOLD_METRICS.keys()].map((k) => [k, 0.2])), latency: 1 } }, /thresholds\.latency: unknown/],
    ['a job name prefix with capitals', { jobNamePrefix: 'Fmft' }, /jobNamePrefix: got 'Fmft'/],
    ['an output prefix without a slash', { outputPrefix: 'monitoring' }, /outputPrefix: got 'monitoring'/],
  ])('%s is refused', (_name, change, message) => {
    expect(make(change)).toThrow(message);
  });
});

describe('the monitor state machine, executed by a local Step Functions emulator (moto)', () => {
  // moto's ASL interpreter runs the Choice, Map, aws-sdk and SNS states as written; the planner function and
  // the SageMaker job need a Lambda runtime and SageMaker, so they stand in as Pass states. (moto returns an
  // S3 body as a stream where Step Functions returns its text, so a successful ReadMetrics is left to the
  // API-model check and the Python tests of metrics.json.)
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto({ executeStateMachines: true });
  });
  afterAll(() => moto?.stop());

  async function call(target: string, body: unknown): Promise<any> {
    const response = await fetch(moto.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `AWSStepFunctions.${target}`, Authorization: AUTH },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${target}: ${JSON.stringify(json)}`);
    return json;
  }

  test('an empty window reports a run; a target whose results cannot be read notifies, and the others still report', async () => {
    const topic = await fetch(moto.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: AUTH.replace('/states/', '/sns/') },
      body: 'Action=CreateTopic&Name=alerts',
    }).then((r) => r.text());
    const topicArn = /<TopicArn>([^<]+)<\/TopicArn>/.exec(topic)![1];

    const machine = renderedDefinition(tpl, topicArn);
    const dimensions = (variant: string) => [
      { Name: 'EndpointName', Value: 'fmft-prod-llm' },
      { Name: 'VariantName', Value: variant },
    ];
    const run = (variant: string, hasData: boolean) => ({
      endpointName: 'fmft-prod-llm',
      variantName: variant,
      hasData,
      jobName: `job-${variant}`,
      inputs: [],
      outputUri: 's3://results/none/',
      outputBucket: 'results',
      metricsKey: `none/${variant}/metrics.json`,
      dimensions: dimensions(variant),
    });
    machine.States[MONITOR_STATE_NAMES.plan] = {
      Type: 'Pass',
      Result: { windowStart: '2026-11-29T09:00:00Z', windowEnd: '2026-11-29T10:00:00Z', runs: [run('current', false), run('candidate', true)] },
      ResultPath: '$.plan',
      Next: MONITOR_STATE_NAMES.targets,
    };
    const processor = machine.States[MONITOR_STATE_NAMES.targets].ItemProcessor.States;
    processor[MONITOR_STATE_NAMES.monitor] = { Type: 'Pass', Next: MONITOR_STATE_NAMES.readMetrics };
    processor[MONITOR_STATE_NAMES.canary] = { Type: 'Pass', Next: MONITOR_STATE_NAMES.monitor };

    const { stateMachineArn } = await call('CreateStateMachine', { name: 'monitor', definition: JSON.stringify(machine), roleArn: 'arn:aws:iam::123456789012:role/monitor' });
    const { executionArn } = await call('StartExecution', { stateMachineArn, name: 'hourly', input: JSON.stringify({ scheduledTime: '2026-11-29T10:10:00Z' }) });
    let status = 'RUNNING';
    for (let i = 0; i < 100 && status === 'RUNNING'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await call('DescribeExecution', { executionArn })).status;
    }
    expect(status).toBe('SUCCEEDED');

    const cloudwatch = new CloudWatchClient(motoClientConfig(moto.endpoint));
    const { Metrics } = await cloudwatch.send(new ListMetricsCommand({ Namespace: 'FineTuningPlatform/prod' }));
    expect(Metrics!.map((m) => [m.MetricName, m.Dimensions]).sort()).toEqual([
      ['CapturedRecords', dimensions('current')],
      ['MonitorRun', dimensions('current')],
    ]);
    const { events } = await call('GetExecutionHistory', { executionArn, maxResults: 1000 });
    const notified = events.filter((e: any) => e.type === 'TaskSucceeded' && e.taskSucceededEventDetails?.resourceType === 'sns');
    expect(notified).toHaveLength(1);
    const entered = events.filter((e: any) => e.type === 'TaskStateEntered').map((e: any) => JSON.parse(e.stateEnteredEventDetails.input));
    const failure = entered.find((input: any) => input.error);
    expect(failure.run.variantName).toBe('candidate');
    expect(failure.error.Error).toMatch(/^s3\.NoSuch/i);
  });
});

const AUTH = 'AWS4-HMAC-SHA256 Credential=testing/20261129/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0';

/** The state machine definition with the partition filled in, the alerts topic replaced, other tokens as text. */
function renderedDefinition(template: Template, topicArn: string): any {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as any[];
  const parts: unknown[] = machine.Properties.DefinitionString['Fn::Join'][1];
  const text = parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p).includes('AWS::Partition') ? 'aws' : 'TOKEN')).join('');
  return JSON.parse(text.replace(/"TopicArn":"TOKEN"/g, `"TopicArn":${JSON.stringify(topicArn)}`));
}

describe('optional Model Monitor data quality schedule', () => {
  const enabled = configWith(prodConfig, (c) => (c.monitoring.modelMonitor.enabled = true));
  const synthesized = synthesizeEnvironment(enabled);
  const mm = Template.fromStack(synthesized.platform.monitoring);

  test('off by default: no job definition or schedule', () => {
    tpl.resourceCountIs('AWS::SageMaker::DataQualityJobDefinition', 0);
    tpl.resourceCountIs('AWS::SageMaker::MonitoringSchedule', 0);
  });

  test('when enabled: one hourly schedule per served endpoint, network isolated, encrypted, with the region\'s analyzer image', () => {
    const endpoints = [...new Set(synthesized.platform.endpoints!.monitorTargets.map((t) => t.endpointName))];
    mm.resourceCountIs('AWS::SageMaker::DataQualityJobDefinition', endpoints.length);
    for (const endpointName of endpoints) {
      mm.hasResourceProperties('AWS::SageMaker::DataQualityJobDefinition', {
        JobDefinitionName: `${endpointName}-data-quality`,
        DataQualityAppSpecification: { ImageUri: modelMonitorAnalyzerImage('us-east-1') },
        DataQualityJobInput: { EndpointInput: Match.objectLike({ EndpointName: endpointName }) },
        NetworkConfig: { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true, VpcConfig: Match.anyValue() },
        JobResources: { ClusterConfig: Match.objectLike({ VolumeKmsKeyId: Match.anyValue(), InstanceType: enabled.monitoring.instanceType }) },
        DataQualityJobOutputConfig: Match.objectLike({ KmsKeyId: Match.anyValue() }),
      });
      mm.hasResourceProperties('AWS::SageMaker::MonitoringSchedule', {
        MonitoringScheduleName: `${endpointName}-data-quality`,
        MonitoringScheduleConfig: { MonitoringJobDefinitionName: `${endpointName}-data-quality`, MonitoringType: 'DataQuality', ScheduleConfig: { ScheduleExpression: 'cron(0 * ? * * *)' } },
      });
    }
  });

  test('when enabled, the compliance packs find nothing', () => {
    expect(unacknowledgedFindings(synthesized.report)).toEqual([]);
  });

  test('a region without a known analyzer image is refused at synth, naming the key', () => {
    expect(() =>
      validateEnvironmentConfig(configWith(enabled, (c) => {
        c.primaryRegion = 'ap-southeast-5';
        c.drRegion = 'ap-southeast-1';
        c.network.availabilityZones = ['ap-southeast-5a', 'ap-southeast-5b'];
      })),
    ).toThrow(/monitoring\.modelMonitor\.enabled: got true; .*not known in primaryRegion ap-southeast-5/);
  });
});
