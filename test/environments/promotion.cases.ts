import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { STORAGE_LAYOUT } from '../../lib/config/storage-layout';
import { PROMOTION_STATE_NAMES as N, PROMOTION_STEPS, REJECTED_ERROR, STAGING_POLL_SECONDS } from '../../lib/constructs/promotion-workflow';
import { configWith, synthesizeEnvironment } from '../support/app';
import { pathsAvoiding, stateMachineDefinition, StatesDefinition, successors } from '../support/state-machine';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const tpl = Template.fromStack(dev.platform.registry);
const promotion = ENVIRONMENTS.dev.serving.promotion!;
const def: StatesDefinition = stateMachineDefinition(tpl);
const states = def.States;

/** The states that call the steps function, by the step they ask for. */
function stepStates(d: StatesDefinition): Record<string, string[]> {
  const byStep: Record<string, string[]> = {};
  for (const [name, s] of Object.entries(d.States)) {
    // payloadResponseOnly tasks take the payload as their parameters; the callback task wraps it in Payload.
    const step = s.Parameters?.step ?? s.Parameters?.Payload?.step;
    if (s.Type === 'Task' && typeof step === 'string') (byStep[step] ??= []).push(name);
  }
  return byStep;
}

/** Statements of the managed policy whose logical id starts with `prefix`. */
function statementsOf(prefix: string): any[] {
  const found = Object.entries(tpl.findResources('AWS::IAM::ManagedPolicy')).filter(([id]) => id.startsWith(prefix));
  expect(found.map(([id]) => id)).toHaveLength(1);
  return (found[0][1] as any).Properties.PolicyDocument.Statement;
}
const actions = (statements: any[]) => statements.flatMap((s) => [s.Action].flat());

describe('staged promotion: the graph', () => {
  test('no path from the start reaches the production deployment without the approval state', () => {
    expect(pathsAvoiding(states, def.StartAt, N.deploy, N.approval)).toEqual([]);
    const approved = pathsAvoiding(states, def.StartAt, N.deploy, '-');
    expect(approved.length).toBeGreaterThan(0);
    for (const path of approved) expect(path).toContain(N.approval);
  });

  test('a path that can fail its own assertion: without the approval state in between, the walk finds it', () => {
    // The same walk over a copy whose judgement goes straight to production.
    const broken = structuredClone(states);
    broken[N.passed].Choices[0].Next = N.deploy;
    expect(pathsAvoiding(broken, def.StartAt, N.deploy, N.approval).length).toBeGreaterThan(0);
  });

  test('the production deployment comes after staging, validation and approval, in that order', () => {
    const [path] = pathsAvoiding(states, def.StartAt, N.deploy, '-');
    const order = [N.check, N.staging, N.describeStaging, N.ask, N.score, N.judge, N.passed, N.approval, N.deploy];
    expect(order.map((name) => path.indexOf(name))).toEqual([...order.map((name) => path.indexOf(name))].sort((a, b) => a - b));
    expect(order.every((name) => path.includes(name))).toBe(true);
  });

  test('only a passed validation leads to the approval request; a failed one ends the execution', () => {
    const choice = states[N.passed];
    expect(choice.Choices).toEqual([{ Variable: '$.validation.passed', BooleanEquals: true, Next: N.approval }]);
    expect(choice.Default).toBe(N.validationFailed);
    expect(states[N.validationFailed].Type).toBe('Fail');
    expect(pathsAvoiding(states, N.judge, N.deploy, N.passed)).toEqual([]);
  });

  test('only two states deploy to production, each calling its own step: the approved deployment and the rollback', () => {
    const byStep = stepStates(def);
    expect(Object.keys(byStep).sort()).toEqual([...PROMOTION_STEPS].sort());
    expect(byStep.deploy).toEqual([N.deploy]);
    expect(byStep.rollback).toEqual([N.restore]);
    // A rollback is an explicit request: the first Choice sends only {"action": "rollback"} there.
    const start = states[def.StartAt];
    expect(start.Type).toBe('Choice');
    expect(JSON.stringify(start.Choices)).toContain('"StringEquals":"rollback"');
    expect(start.Default).toBe(N.check);
    expect(pathsAvoiding(states, N.check, N.restore, '-')).toEqual([]);
  });

  test('the approval waits on a task token for the configured time; a rejection and a timeout end the execution', () => {
    const approval = states[N.approval];
    expect(approval.Resource).toMatch(/:states:::lambda:invoke\.waitForTaskToken$/);
    expect(approval.Parameters.Payload).toEqual(expect.objectContaining({ step: 'awaitApproval', 'taskToken.$': '$$.Task.Token' }));
    expect(approval.TimeoutSeconds).toBe(promotion.approvalTimeoutHours * 3600);
    const catches = Object.fromEntries(approval.Catch.map((c: any) => [c.ErrorEquals.join(','), c.Next]));
    expect(catches[REJECTED_ERROR]).toBe(N.rejected);
    expect(states[N.rejected]).toEqual(expect.objectContaining({ Type: 'Fail', Error: REJECTED_ERROR }));
    expect(catches['States.Timeout']).toBe(N.approvalTimedOut);
    expect(successors(states[N.approvalTimedOut]).every((next) => states[next].Type === 'Fail')).toBe(true);
  });

  test('staging is polled once a minute until InService with the new configuration, and given up after stagingTimeoutMinutes', () => {
    expect(states[N.waitStaging]).toEqual(expect.objectContaining({ Type: 'Wait', Seconds: STAGING_POLL_SECONDS }));
    const ready = states[N.stagingReady];
    expect(JSON.stringify(ready.Choices[0])).toContain('"StringEqualsPath":"$.staging.endpointConfigName"');
    const giveUp = ready.Choices.find((c: any) => c.Variable === '$.stagingPolls.count');
    expect(giveUp.NumericGreaterThanEquals).toBe(promotion.stagingTimeoutMinutes);
    expect(ready.Default).toBe(N.waitStaging);
  });

  test('the standard request: the canary asks staging with at most 100 new tokens; the scoring job is isolated and encrypted', () => {
    const ask = states[N.ask].Parameters;
    expect(ask).toEqual(expect.objectContaining({ endpointName: 'fmft-dev-llm-staging', variantName: 'staging', maxNewTokens: promotion.validation.maxNewTokens }));
    expect(ask.maxNewTokens).toBeLessThanOrEqual(100);
    const job = states[N.score].Parameters;
    expect(states[N.score].Resource).toMatch(/:states:::sagemaker:createProcessingJob\.sync$/);
    expect(job.NetworkConfig).toEqual(expect.objectContaining({ EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true }));
    expect(job.ProcessingOutputConfig.KmsKeyId).toBeDefined();
    expect(job.AppSpecification.ContainerArguments).toEqual(expect.arrayContaining(['training.monitor', 'score-canary', '--task', promotion.validation.task]));
  });

  test('every task catches its errors, and every failure path after a task notifies', () => {
    const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(12);
    for (const [name, s] of tasks) {
      expect({ name, catches: (s.Catch ?? []).some((c: any) => c.ErrorEquals.includes('States.ALL')) }).toEqual({ name, catches: true });
      if (name === N.notifyFailure || name === N.approvalTimedOut) continue;
      for (const path of pathsAvoiding(states, name, N.failed, '-')) {
        expect({ path, notified: path.includes(N.notifyFailure) || path.includes(N.approvalTimedOut) }).toEqual({ path, notified: true });
      }
    }
  });

  test('the rollout is polled until done, then finished; only a serving outcome succeeds', () => {
    expect(states[N.changed].Choices[0].Next).toBe(N.unchanged);
    expect(states[N.rolloutDone].Choices).toEqual([{ Variable: '$.rollout.done', BooleanEquals: true, Next: N.finish }]);
    expect(states[N.serving].Choices).toEqual([{ Variable: '$.outcome.status', StringEquals: 'serving', Next: N.inProduction }]);
    expect(states[N.serving].Default).toBe(N.rolledBack);
  });
});

describe('staged promotion: resources and least privilege', () => {
  test('every state change of the group goes to the events function, with retries and a dead-letter queue', () => {
    tpl.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Model Package State Change'],
        detail: { ModelPackageGroupName: ['fmft-dev-fine-tuning-models'], ModelApprovalStatus: ['PendingManualApproval', 'Approved', 'Rejected'] },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 }, DeadLetterConfig: { Arn: Match.anyValue() } })],
    });
  });

  test('CloudFormation alone may assume the deploy role, which only the steps function may pass, and only to CloudFormation', () => {
    const roles = Object.entries(tpl.findResources('AWS::IAM::Role')).filter(([id]) => id.startsWith('PromotionDeployRole'));
    expect(roles).toHaveLength(1);
    const trust = (roles[0][1] as any).Properties.AssumeRolePolicyDocument.Statement;
    expect(trust).toEqual([expect.objectContaining({ Principal: { Service: 'cloudformation.amazonaws.com' }, Action: 'sts:AssumeRole' })]);
    const passers = Object.entries(tpl.findResources('AWS::IAM::ManagedPolicy')).filter(([, p]) =>
      (p as any).Properties.PolicyDocument.Statement.some((s: any) => [s.Action].flat().includes('iam:PassRole') && JSON.stringify(s.Resource).includes('PromotionDeployRole')),
    );
    expect(passers.map(([id]) => id.replace(/[A-F0-9]{8}$/, ''))).toEqual(['PromotionStepsRolePolicy']);
    const pass = statementsOf('PromotionStepsRolePolicy').find((s) => [s.Action].flat().includes('iam:PassRole'));
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } });
  });

  test('the deploy role can replace models and endpoint configurations and update the production endpoint, nothing else', () => {
    const statements = statementsOf('PromotionDeployPolicy');
    const all = actions(statements);
    expect(all.filter((a) => !/^(sagemaker|cloudwatch|iam|kms):/.test(a))).toEqual(['ssm:GetParameters']);
    const ssm = statements.find((s) => s.Action === 'ssm:GetParameters');
    expect(JSON.stringify(ssm.Resource)).toContain(':parameter/cdk-bootstrap/hnb659fds/version"');
    expect(all).not.toContain('sagemaker:CreateEndpoint');
    expect(all).not.toContain('sagemaker:DeleteEndpoint');
    expect(all.filter((a) => a.includes('*'))).toEqual([]);
    const update = statements.find((s) => [s.Action].flat().includes('sagemaker:UpdateEndpoint'));
    expect(JSON.stringify(update.Resource)).toContain(':endpoint/fmft-dev-llm"');
  });

  test('the steps may update only this environment\u2019s endpoints stack and versions, and read and write only their prefixes', () => {
    const statements = statementsOf('PromotionStepsRolePolicy');
    const update = statements.find((s) => [s.Action].flat().includes('cloudformation:UpdateStack'));
    expect(JSON.stringify(update.Resource)).toContain(':stack/fmft-dev-endpoints/*');
    const text = JSON.stringify(statements);
    for (const prefix of [STORAGE_LAYOUT.modelArtifacts.prefixes.servingManifests, STORAGE_LAYOUT.modelArtifacts.prefixes.approvals, STORAGE_LAYOUT.evaluation.prefixes.staging]) {
      expect(text).toContain(`/${prefix}*`);
    }
    expect(actions(statements)).not.toContain('states:SendTaskSuccess');
  });

  test('only the events function answers the approval task, and it may not deploy', () => {
    const statements = statementsOf('PromotionEventsRolePolicy');
    expect(actions(statements)).toEqual(expect.arrayContaining(['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:StartExecution']));
    expect(actions(statements).filter((a) => a.startsWith('cloudformation:') || a === 'iam:PassRole' || a === 'sagemaker:UpdateModelPackage')).toEqual([]);
  });

  test('the staging canary may call the staging endpoint only', () => {
    const invoke = statementsOf('StagingCanaryRolePolicy').find((s) => [s.Action].flat().includes('sagemaker:InvokeEndpoint'));
    expect(JSON.stringify(invoke.Resource)).toContain(':endpoint/fmft-dev-llm-staging"');
  });
});

describe('staged promotion: config', () => {
  test('without serving.promotion there is no promotion workflow, and staging stays available', () => {
    const none = synthesizeEnvironment(configWith(ENVIRONMENTS.dev, (c) => delete c.serving.promotion));
    const registry = Template.fromStack(none.platform.registry);
    registry.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    // The one rule left is the registry export's (disasterRecovery.replication), not the promotion's.
    expect(Object.keys(registry.findResources('AWS::Events::Rule'))).toEqual([expect.stringMatching(/^RegistryExportVersionChanges/)]);
    expect(none.platform.registry.stagingFunction).toBeDefined();
  });
});
