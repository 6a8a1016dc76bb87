import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { STORAGE_LAYOUT } from '../../lib/config/storage-layout';
import { normalizedTemplate, synthesizeEnvironment } from '../support/app';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const prod = synthesizeEnvironment(ENVIRONMENTS.prod);

/** Physical names that must be unique in an account: stacks, buckets, aliases, repositories, budgets, schedules, dashboards, Glue databases, Athena workgroups. */
function physicalNames(stage: typeof dev): string[] {
  const names = Object.keys(stage.raw);
  for (const template of Object.values(stage.raw) as any[]) {
    for (const r of Object.values(template.Resources) as any[]) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::S3::Bucket' && p.BucketName !== undefined) names.push(JSON.stringify(p.BucketName));
      if (['AWS::Scheduler::Schedule', 'AWS::Athena::WorkGroup', 'AWS::Events::Rule', 'AWS::WAFv2::WebACL'].includes(r.Type) && p.Name !== undefined) names.push(JSON.stringify(p.Name));
      if (r.Type === 'AWS::Glue::Database') names.push(JSON.stringify(p.DatabaseInput.Name));
      for (const key of ['AliasName', 'RepositoryName', 'DashboardName', 'BackupVaultName']) {
        if (p[key] !== undefined) names.push(JSON.stringify(p[key]));
      }
      if (p.Budget?.BudgetName) names.push(p.Budget.BudgetName);
      if (r.Type === 'AWS::Logs::LogGroup' && p.LogGroupName !== undefined) names.push(JSON.stringify(p.LogGroupName));
      if (r.Type === 'AWS::Lambda::Function' && p.FunctionName !== undefined) names.push(JSON.stringify(p.FunctionName));
      for (const key of ['PipelineName', 'ModelPackageGroupName', 'StateMachineName']) {
        if (p[key] !== undefined) names.push(JSON.stringify(p[key]));
      }
    }
  }
  return names;
}

describe('stage', () => {
  test('stack names carry the environment', () => {
    const stacks = ['api', 'bedrock', 'dr', 'monitoring', 'network', 'pipelines', 'registry', 'security', 'storage', 'training'];
    expect(Object.keys(dev.raw).sort()).toEqual(stacks.map((s) => `fmft-dev-${s}`));
    expect(Object.keys(prod.raw).sort()).toEqual(stacks.map((s) => `fmft-prod-${s}`));
  });

  test('no physical name collides between dev and prod in one account', () => {
    const devNames = physicalNames(dev);
    const prodNames = new Set(physicalNames(prod));
    // 10 stacks (the DR stack in drRegion), 11 named buckets (5 replicas), 18 key aliases (2 of replicas, 2 of
    // backup vaults, 2 of the DR workflows), 2 backup vaults (1 in drRegion), 1 repository, 1 budget, 1 pipeline,
    // 1 model package group, 4 state machines (Bedrock customization, capture monitor, promotion, Bedrock model
    // copy in drRegion), 2 schedules, 4 dashboards (replication and API usage too), 1 Glue database, 1 Athena
    // workgroup, 3 named log groups (Bedrock invocations, the API's execution and WAF logs), 2 named rules
    // (Bedrock dataset landed, new training data), 1 named function (the pipeline's production-version finder),
    // 1 web ACL.
    expect(devNames).toHaveLength(64);
    // A name built from another resource's id (the API's execution log group) differs wherever it deploys.
    const fromResource = (n: string) => /\{"Ref":"(?!AWS::)[^"]+"\}/.test(n);
    expect(devNames.filter((n) => prodNames.has(n) && !fromResource(n))).toEqual([]);
    expect(devNames.filter(fromResource)).toHaveLength(1);
  });

  test('configured tags reach every taggable resource', () => {
    dev.templates.storage.hasResourceProperties('AWS::S3::Bucket', {
      Tags: Match.arrayWith([{ Key: 'environment', Value: 'dev' }, { Key: 'project', Value: 'fm-finetuning' }]),
    });
    prod.templates.network.hasResourceProperties('AWS::EC2::VPC', {
      Tags: Match.arrayWith([{ Key: 'environment', Value: 'prod' }]),
    });
  });

  test('stacks get what they need through props, so deploy order follows', () => {
    expect(dev.platform.security.dependencies.map((d) => d.stackName).sort()).toEqual(['fmft-dev-network', 'fmft-dev-storage']);
    expect(dev.platform.training.dependencies.map((d) => d.stackName).sort()).toEqual(['fmft-dev-security']);
    expect(dev.platform.pipelines.dependencies.map((d) => d.stackName).sort()).toEqual(['fmft-dev-network', 'fmft-dev-security', 'fmft-dev-storage', 'fmft-dev-training']);
    expect(dev.platform.network.dependencies).toEqual([]);
    // The replicas exist before the buckets that name them in their replication rules.
    expect(dev.platform.storage.dependencies.map((d) => d.stackName)).toEqual(['fmft-dev-dr']);
  });

  test('the prefix layout comes from the shared contract', () => {
    expect(STORAGE_LAYOUT.trainingData.prefixes).toEqual({ raw: 'training-data/raw/', processed: 'training-data/processed/' });
    expect(STORAGE_LAYOUT.modelArtifacts.prefixes.checkpoints).toBe('models/checkpoints/');
    expect(STORAGE_LAYOUT.evaluation.prefixes.reports).toBe('evaluation/reports/');
  });

  test.each(['network', 'storage', 'security', 'training'] as const)('%s snapshot (dev)', (stack) => {
    expect(normalizedTemplate(dev.templates[stack])).toMatchSnapshot();
  });
});
