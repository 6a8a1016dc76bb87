import * as fs from 'fs';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { PLATFORM_NODE_RUNTIME, PLATFORM_PYTHON_RUNTIME } from '../../lib/constructs/platform-function';
import { normalizedTemplate, synthesizeEnvironment } from '../support/app';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const tpl = Template.fromStack(dev.platform.registry);

function policyOf(prefix: string): any[] {
  const [, policy] = Object.entries(tpl.findResources('AWS::IAM::ManagedPolicy')).find(([id]) => id.startsWith(prefix)) as [string, any];
  return policy.Properties.PolicyDocument.Statement;
}
const actionsOf = (statements: any[]) => statements.flatMap((s) => [s.Action].flat());

describe('registry stack', () => {
  test('the staging and operations functions run the bundled TypeScript handlers on the newest Node.js, in the private subnets', () => {
    const functions = (Object.values(tpl.findResources('AWS::Lambda::Function')) as any[]).filter((f) => f.Properties.Handler.startsWith('index.'));
    expect(functions.map((f) => f.Properties.Handler).sort()).toEqual(['index.operationsHandler', 'index.stagingHandler']);
    for (const f of functions) {
      expect(f.Properties.Runtime).toBe(PLATFORM_NODE_RUNTIME.name);
      expect(f.Properties.VpcConfig.SubnetIds).toHaveLength(2);
      const settings = JSON.stringify(f.Properties.Environment.Variables.FMFT_OPERATIONS_SETTINGS);
      expect(settings).toContain('fmft-dev-llm-staging');
      expect(settings).toContain('fmft-dev-fine-tuning-models');
    }
    const key = functions[0].Properties.Code.S3Key.replace('.zip', '');
    const bundle = fs.readFileSync(path.join(dev.outdir, `asset.${key}`, 'index.js'), 'utf8');
    expect(bundle).toContain('UpdateEndpointWeightsAndCapacities');
  });

  test('the promotion and registry-export functions run the Python handlers in the private subnets', () => {
    const functions = (Object.values(tpl.findResources('AWS::Lambda::Function')) as any[]).filter((f) => !f.Properties.Handler.startsWith('index.'));
    expect(functions.map((f) => f.Properties.Handler).sort()).toEqual([
      'training.dr.registry_export.handler',
      'training.monitor.canary.handler',
      'training.registry.promotion.events_handler',
      'training.registry.promotion.step_handler',
    ]);
    for (const f of functions) {
      expect(f.Properties.Runtime).toBe(PLATFORM_PYTHON_RUNTIME.name);
      expect(f.Properties.VpcConfig.SubnetIds).toHaveLength(2);
    }
  });

  test('the staging function creates models and configurations under the staging prefix only, and passes only the endpoint role', () => {
    const statements = policyOf('StagingRolePolicy');
    const actions = actionsOf(statements);
    expect(actions).toEqual(expect.arrayContaining(['sagemaker:DescribeModelPackage', 'sagemaker:CreateModel', 'sagemaker:CreateEndpointConfig', 'sagemaker:CreateEndpoint', 'sagemaker:UpdateEndpoint']));
    expect(actions.filter((a: string) => a.includes('*'))).toEqual([]);
    expect(actions).not.toContain('sagemaker:DeleteEndpoint');
    const cleanup = statements.find((s) => [s.Action].flat().includes('sagemaker:DeleteModel'));
    expect(JSON.stringify(cleanup.Resource)).toContain(':model/fmft-dev-llm-staging-*');
    expect(JSON.stringify(cleanup.Resource)).toContain(':endpoint-config/fmft-dev-llm-staging-*');
    const create = statements.find((s) => [s.Action].flat().includes('sagemaker:CreateModel'));
    expect(JSON.stringify(create.Resource)).toContain(':model/fmft-dev-llm-staging-*');
    const pass = statements.filter((s) => [s.Action].flat().includes('iam:PassRole'));
    expect(pass).toHaveLength(1);
    expect(pass[0].Condition.StringEquals['iam:PassedToService']).toBe('sagemaker.amazonaws.com');
    expect(JSON.stringify(pass[0].Resource)).toContain('DeploymentRole');
  });

  test('the operations function may change weights of the production and staging endpoints only', () => {
    const statements = policyOf('OperationsRolePolicy');
    const update = statements.find((s) => [s.Action].flat().includes('sagemaker:UpdateEndpointWeightsAndCapacities'));
    expect(JSON.stringify(update.Resource)).toMatch(/endpoint\/fmft-dev-llm".*endpoint\/fmft-dev-llm-staging"/);
    expect(actionsOf(statements)).not.toContain('sagemaker:UpdateEndpoint');
  });

  test('snapshot', () => {
    expect(normalizedTemplate(tpl)).toMatchSnapshot();
  });
});
