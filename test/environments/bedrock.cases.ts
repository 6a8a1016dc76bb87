import * as fs from 'fs';
import * as path from 'path';
import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { STORAGE_LAYOUT } from '../../lib/config/storage-layout';
import { BEDROCK_STATE_NAMES as N } from '../../lib/constructs/bedrock-customization-workflow';
import { HANDLER_PACKAGES } from '../../lib/constructs/python-handlers-code';
import { PLATFORM_PYTHON_RUNTIME } from '../../lib/constructs/platform-function';
import { BEDROCK_REPORTS_PREFIX } from '../../lib/stacks/bedrock-stack';
import { normalizedTemplate, synthesizeEnvironment } from '../support/app';
import { pathsAvoiding, stateMachineDefinition } from '../support/state-machine';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const prod = synthesizeEnvironment(ENVIRONMENTS.prod);
const tpl = dev.templates.bedrock;

/** The state machine definition with every CloudFormation reference replaced by 'CFN_REF'. */
const definition = (template = tpl) => stateMachineDefinition(template, 'CFN_REF');

/** The raw definition parts, to see which resource a reference points at. */
function definitionRefs(): string {
  const sm = Object.values(tpl.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
  return JSON.stringify(sm.Properties.DefinitionString);
}

const def = definition();
const tasks = Object.entries(def.States).filter(([, s]) => s.Type === 'Task');

describe('bedrock state machine', () => {
  test('the run goes check -> customize -> throughput -> evaluation -> notification', () => {
    expect(def.StartAt).toBe(N.prepare);
    expect(def.States[N.prepare].Next).toBe(N.hasValidation);
    expect(def.States[N.customize].Resource).toBe('arn:aws:states:::bedrock:createModelCustomizationJob.sync');
    expect(def.States[N.evaluate].Resource).toBe('arn:aws:states:::sagemaker:createProcessingJob.sync');
    expect(def.States[N.notifySuccess].Next).toBe(N.succeeded);
    expect(def.States[N.failed].Type).toBe('Fail');
  });

  test('every task retries transient errors and catches everything else', () => {
    expect(tasks.length).toBeGreaterThanOrEqual(10);
    for (const [name, state] of tasks) {
      expect({ name, retries: (state.Retry ?? []).length > 0 }).toEqual({ name, retries: true });
      const catchesAll = (state.Catch ?? []).some((c: any) => c.ErrorEquals.includes('States.ALL'));
      expect({ name, catchesAll }).toEqual({ name, catchesAll: true });
    }
  });

  test('every failure ends in the Failed state after a notification', () => {
    for (const [name] of tasks) {
      if (name === N.notifyFailure || name === N.notifySuccess) continue;
      const paths = pathsAvoiding(def.States, name, N.failed, '-');
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) expect(p).toContain(N.notifyFailure);
    }
  });

  test('a lost success e-mail neither fails the run nor deletes its throughput', () => {
    expect(def.States[N.notifySuccess].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.notificationError', Next: N.succeeded }]);
  });

  test('once throughput exists, no path to Failed skips deleting it', () => {
    const afterCreate = def.States[N.createThroughput].Next;
    expect(pathsAvoiding(def.States, afterCreate, N.failed, N.deleteThroughput)).toEqual([]);
    // ... while the success path keeps it (a provisioned model is the point of the run).
    expect(pathsAvoiding(def.States, afterCreate, N.succeeded, N.deleteThroughput).length).toBeGreaterThan(0);
  });

  test('the wait for InService polls once a minute and gives up after the configured time', () => {
    expect(def.States[N.wait]).toEqual(expect.objectContaining({ Type: 'Wait', Seconds: 60 }));
    const ready = def.States[N.throughputReady];
    const giveUp = ready.Choices.find((c: any) => c.Variable === '$.throughputPolls.count');
    expect(giveUp.NumericGreaterThanEquals).toBe(ENVIRONMENTS.dev.bedrock.throughputWaitMinutes);
    expect(ready.Default).toBe(N.wait);
  });

  test.each([N.customize, N.customizeWithValidation])('%s: VPC, KMS, role and output from the platform, never from the input', (name) => {
    const p = def.States[name].Parameters;
    expect(p.VpcConfig.SubnetIds).toHaveLength(ENVIRONMENTS.dev.network.availabilityZones.length);
    expect(p.VpcConfig.SecurityGroupIds).toHaveLength(1);
    for (const key of ['RoleArn', 'CustomModelKmsKeyId']) expect(p[key]).toBe('CFN_REF');
    expect(p.OutputDataConfig.S3Uri).toContain(STORAGE_LAYOUT.modelArtifacts.prefixes.bedrockOutput);
    // Only data, names, model and hyperparameters come from the checked run; the token from the execution.
    const fromInput = Object.keys(p).filter((k) => k.endsWith('.$') && k !== 'ClientRequestToken.$');
    expect(fromInput.sort()).toEqual(['BaseModelIdentifier.$', 'CustomModelName.$', 'CustomizationType.$', 'HyperParameters.$', 'JobName.$']);
    // The cost tags (test/environments/cost.cases.ts checks every billed task the same way).
    expect(p.JobTags).toEqual(expect.arrayContaining([{ Key: 'fmft:environment', Value: 'dev' }, { Key: 'fmft:execution', 'Value.$': '$$.Execution.Name' }]));
  });

  test('every create call that a state retries carries an idempotency token of its run and call, the same on every attempt', () => {
    const creates = Object.entries(def.States).filter(([, st]: [string, any]) => st.Type === 'Task' && /:(create|start)\w*/i.test(st.Resource ?? ''));
    expect(creates.map(([name]) => name).sort()).toEqual([N.createThroughput, N.customize, N.customizeWithValidation, N.evaluate].sort());
    const tokens: Record<string, string> = {};
    for (const [name, st] of creates as [string, any][]) {
      if (name === N.evaluate) continue; // CreateProcessingJob takes no token: its name is per run
      expect(st.Retry.length).toBeGreaterThan(0);
      tokens[name] = st.Parameters['ClientRequestToken.$'];
      // Made of the execution ID only: nothing that differs between attempts ($$.State.RetryCount, times, input).
      expect(tokens[name]).toMatch(/^States\.Hash\(States\.Format\('\{\}\/[a-z-]+', \$\$\.Execution\.Id\), 'SHA-256'\)$/);
    }
    expect(tokens[N.customize]).toBe(tokens[N.customizeWithValidation]); // one job per run, whichever branch
    expect(tokens[N.createThroughput]).not.toBe(tokens[N.customize]);
  });

  test('the customization job uses the custom-model key and the Bedrock role of the other stacks', () => {
    const refs = definitionRefs();
    expect(refs).toMatch(/fmft-dev-storage.*BedrockCustomModelKey/);
    expect(refs).toMatch(/fmft-dev-security.*BedrockCustomizationRole/);
    expect(def.States[N.customizeWithValidation].Parameters.ValidationDataConfig.Validators[0]).toEqual({ 'S3Uri.$': '$.run.validationDataUri' });
    expect(def.States[N.customize].Parameters.ValidationDataConfig).toBeUndefined();
  });

  test('the evaluation job is isolated, encrypted, in the VPC, and writes next to the SageMaker reports', () => {
    const p = def.States[N.evaluate].Parameters;
    expect(p.NetworkConfig).toEqual({
      EnableNetworkIsolation: true,
      EnableInterContainerTrafficEncryption: true,
      VpcConfig: { Subnets: expect.any(Array), SecurityGroupIds: ['CFN_REF'] },
    });
    expect(p.ProcessingResources.ClusterConfig.VolumeKmsKeyId).toBe('CFN_REF');
    expect(p.ProcessingOutputConfig.KmsKeyId).toBe('CFN_REF');
    expect(p.ProcessingOutputConfig.Outputs[0].S3Output['S3Uri.$']).toBe("States.Format('s3://CFN_REF/{}', $.run.evaluationPrefix)");
    expect(definitionRefs()).toMatch(/fmft-dev-storage.*PublishOutputRefEvaluationBucket/);
    // The launcher starts `python -m training.evaluate <task of the run>` from the code archive.
    expect(p.AppSpecification.ContainerEntrypoint).toEqual(['python3', expect.stringMatching(/^\/opt\/ml\/processing\/input\/launcher\/[0-9a-f]{64}\.py$/)]);
    expect(p.AppSpecification['ContainerArguments.$']).toMatch(
      /^States\.Array\('\/opt\/ml\/processing\/input\/code\/[0-9a-f]{64}\.gz', 'training\.evaluate', \$\.run\.evaluationTask, '--predictions', '\/opt\/ml\/processing\/input\/predictions', '--output-dir', '\/opt\/ml\/processing\/output\/evaluation'\)$/,
    );
    expect(p.ProcessingInputs.map((i: any) => i.InputName)).toEqual(['code', 'launcher', 'predictions']);
    expect(p.ProcessingInputs[2].S3Input['S3Uri.$']).toBe('$.predictions.predictionsUri');
    expect(BEDROCK_REPORTS_PREFIX).toBe(`${STORAGE_LAYOUT.evaluation.prefixes.reports}bedrock/`);
  });

  test('logs everything to an encrypted group and traces with X-Ray', () => {
    tpl.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'fmft-dev-bedrock-customization',
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
      TracingConfiguration: { Enabled: true },
    });
  });

  test('the role passes only the Bedrock and processing roles, each to its service', () => {
    const policy = Object.entries(tpl.findResources('AWS::IAM::ManagedPolicy')).find(([id]) => id.startsWith('CustomizationRolePolicy'))![1] as any;
    const passes = policy.Properties.PolicyDocument.Statement.filter((s: any) => [s.Action].flat().includes('iam:PassRole'));
    expect(passes.map((s: any) => s.Condition.StringEquals['iam:PassedToService']).sort()).toEqual(['bedrock.amazonaws.com', 'sagemaker.amazonaws.com']);
    expect(JSON.stringify(policy)).not.toMatch(/"Action":"\*"|"bedrock:\*"|"sagemaker:\*"/);
  });
});

describe('bedrock functions', () => {
  const functions = tpl.findResources('AWS::Lambda::Function');

  test('five functions (four handlers and the dataset trigger), each in the private subnets, with reserved concurrency, encrypted environment, tracing and a DLQ', () => {
    expect(Object.keys(functions)).toHaveLength(5);
    for (const [id, fn] of Object.entries(functions) as [string, any][]) {
      const p = fn.Properties;
      expect(p.Runtime).toBe(PLATFORM_PYTHON_RUNTIME.name);
      expect(p.VpcConfig.SubnetIds).toHaveLength(2);
      expect(p.ReservedConcurrentExecutions).toBeGreaterThan(0);
      expect(p.KmsKeyArn).toBeDefined();
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.DeadLetterConfig.TargetArn).toBeDefined();
      if (id.startsWith('DatasetTrigger')) {
        expect(p.Handler).toBe('training.triggers.retrain.handler');
      } else {
        expect(p.Handler).toMatch(/^training\.bedrock\.handlers\.\w+$/);
        expect(p.Environment.Variables.FMFT_BEDROCK_SETTINGS).toBeDefined();
      }
    }
  });

  test('no function role has an inline policy or an AWS managed policy', () => {
    tpl.resourceCountIs('AWS::IAM::Policy', 0);
    for (const role of Object.values(tpl.findResources('AWS::IAM::Role')) as any[]) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.Policies).toBeUndefined();
    }
  });

  test('the code is the handler packages of training/ only', () => {
    const code = (Object.values(functions)[0] as any).Properties.Code;
    const hash = code.S3Key.replace('.zip', '');
    const dir = path.join(dev.outdir, `asset.${hash}`, 'training');
    expect(fs.readdirSync(dir).sort()).toEqual([...HANDLER_PACKAGES].sort());
    expect(fs.existsSync(path.join(dir, 'bedrock', 'handlers.py'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'contracts', 'bedrock-models.json'))).toBe(true);
  });

  test('settings carry the config defaults, the data bucket and the guard', () => {
    const prepare = Object.entries(functions).find(([id]) => id.startsWith('Prepare'))![1] as any;
    const text = JSON.stringify(prepare.Properties.Environment.Variables.FMFT_BEDROCK_SETTINGS);
    expect(text).toContain('amazon.nova-micro-v1:0:128k');
    expect(text).toContain('PublishOutputRefTrainingDataBucket');
    expect(text).toContain('"deleteStale\\":true');
    const prodText = JSON.stringify(prod.templates.bedrock.toJSON());
    expect(prodText).toContain('"deleteStale\\":false');
  });
});

describe('bedrock trigger, guard and invocation logging', () => {
  test('objects under the configured prefix go to the shared trigger, which starts a settled folder holding train.jsonl', () => {
    const prefix = ENVIRONMENTS.dev.bedrock.trigger!.datasetPrefix;
    tpl.hasResourceProperties('AWS::Events::Rule', {
      Name: 'fmft-dev-bedrock-dataset-landed',
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [Match.anyValue()] }, object: { key: [{ prefix }] } },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DatasetTriggerRequests'), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
          DeadLetterConfig: { Arn: Match.anyValue() },
        }),
      ],
    });
    const [fn] = Object.entries(tpl.findResources('AWS::Lambda::Function')).filter(([id]) => id.startsWith('DatasetTriggerHandler')).map(([, r]) => r as any);
    const parts: unknown[] = fn.Properties.Environment.Variables.FMFT_RETRAIN_SETTINGS['Fn::Join'][1];
    const settings = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : '"<token>"').replace(/^"<token>"$/, '<token>')).join(''));
    expect(settings).toMatchObject({ rawPrefix: prefix, inputParameter: 'datasetUri', requiredFile: 'train.jsonl', datasets: null, quietSeconds: 600 });
    const [policy] = Object.entries(tpl.findResources('AWS::IAM::ManagedPolicy')).filter(([id]) => id.startsWith('DatasetTriggerHandlerRole')).map(([, r]) => r as any);
    const states = policy.Properties.PolicyDocument.Statement.filter((st: any) => [st.Action].flat().some((a: string) => a.startsWith('states:')));
    expect(states).toHaveLength(1);
    expect([states[0].Action].flat().sort()).toEqual(['states:ListExecutions', 'states:StartExecution']);
    const machine = Object.keys(tpl.findResources('AWS::StepFunctions::StateMachine')).find((id) => id.startsWith('CustomizationStateMachine'));
    expect(machine).toBeDefined();
    expect(states[0].Resource).toEqual({ Ref: machine });
  });

  test('the guard runs hourly and its alarm mails the alerts topic, also when it stops reporting', () => {
    tpl.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)' });
    tpl.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'StaleProvisionedThroughputs',
      Namespace: 'FineTuningPlatform/dev',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [Match.anyValue()],
    });
  });

  test('only dev may delete stale throughput, and IAM admits only throughput tagged with its environment', () => {
    const deleteStatements = (t: typeof tpl) =>
      Object.entries(t.findResources('AWS::IAM::ManagedPolicy'))
        .filter(([id]) => id.startsWith('ThroughputGuardHandler'))
        .flatMap(([, p]: [string, any]) => p.Properties.PolicyDocument.Statement)
        .filter((st: any) => [st.Action].flat().includes('bedrock:DeleteProvisionedModelThroughput'));
    expect(deleteStatements(tpl)).toEqual([
      expect.objectContaining({ Condition: { StringEquals: { 'aws:ResourceTag/fmft:environment': 'dev' } } }),
    ]);
    expect(deleteStatements(prod.templates.bedrock)).toEqual([]);
  });

  test('the throughput the workflow creates carries the tag the guard is limited to', () => {
    const create = def.States[N.createThroughput].Parameters;
    expect(create.Tags).toEqual(expect.arrayContaining([{ Key: 'fmft:environment', Value: 'dev' }]));
  });

  test('invocation logging: a custom resource with the log group, delivery role and bucket', () => {
    tpl.hasResourceProperties('Custom::BedrockInvocationLogging', {
      KeyPrefix: 'bedrock-invocations/',
      LargeDataPrefix: 'bedrock-invocations/large-data/',
      LogGroupName: { Ref: Match.anyValue() },
      LoggingRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^InvocationLoggingDeliveryRole'), 'Arn'] },
    });
    tpl.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/fmft-dev/bedrock/model-invocations',
      RetentionInDays: ENVIRONMENTS.dev.bedrock.invocationLogRetentionDays,
      KmsKeyId: Match.anyValue(),
    });
    tpl.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'bedrock.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: Match.anyValue() },
          }),
        ],
      },
    });
  });

  test('snapshot', () => {
    expect(normalizedTemplate(tpl)).toMatchSnapshot();
  });
});
