import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { SERVING_MANIFEST_KEY } from '../../lib/config/storage-layout';
import { servedVersions } from '../../lib/constructs/pipelines/champion-finder';
import { FINE_TUNING_STEP_NAMES } from '../../lib/pipeline/fine-tuning-pipeline';
import { configWith, synthesizeEnvironment } from '../support/app';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const prodConfig = loadEnvironmentConfig('prod', FIXTURE);
const prod = synthesizeEnvironment(prodConfig);

function only(template: Template, type: string, prefix: string): any {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  expect(found.map(([id]) => id)).toHaveLength(1);
  return found[0][1];
}
/** The finder's FMFT_CHAMPION_SETTINGS, with CloudFormation tokens as '<token>'. */
function championSettings(fn: any): any {
  const value = fn.Properties.Environment.Variables.FMFT_CHAMPION_SETTINGS;
  const parts: unknown[] = typeof value === 'string' ? [value] : value['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : '<token>')).join(''));
}

/** The pipeline definition with CloudFormation tokens as '<token>'. */
function definition(template: Template): any {
  const pipeline: any = Object.values(template.findResources('AWS::SageMaker::Pipeline'))[0];
  const body = pipeline.Properties.PipelineDefinition.PipelineDefinitionBody;
  const parts: unknown[] = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : '<token>')).join(''));
}

describe('the candidate must beat the production version (qualityGate.againstProduction)', () => {
  const pipelines = Template.fromStack(dev.platform.pipelines);

  test("the pipeline's Lambda step calls the finder, whose role may describe only this group's versions", () => {
    const steps = definition(pipelines).Steps;
    expect(steps.map((s: any) => s.Name)).toContain(FINE_TUNING_STEP_NAMES.findChampion);
    const fn = only(pipelines, 'AWS::Lambda::Function', 'ChampionFinderHandler');
    expect(fn.Properties.FunctionName).toBe('fmft-dev-find-production-version');
    expect(fn.Properties.Handler).toBe('training.registry.champion.handler');
    expect(fn.Properties.VpcConfig).toBeDefined();
    const statements: any[] = only(pipelines, 'AWS::IAM::ManagedPolicy', 'ChampionFinderHandlerRole').Properties.PolicyDocument.Statement;
    const actions = statements.flatMap((s) => [s.Action].flat()).filter((a: string) => a.startsWith('sagemaker:'));
    expect(actions.sort()).toEqual(['sagemaker:DescribeModelPackage', 'sagemaker:ListModelPackages']);
    const describe = statements.find((s) => [s.Action].flat().includes('sagemaker:DescribeModelPackage'));
    expect([describe.Action].flat()).toEqual(['sagemaker:DescribeModelPackage']);
    expect(JSON.stringify(describe.Resource)).toMatch(/:model-package\/fmft-dev-fine-tuning-models\/\*"\]\]\}$/);
  });

  test('the pipeline role may invoke that one function, by name (no reference from the security stack to the pipelines stack)', () => {
    const security = Template.fromStack(dev.platform.security);
    const policies = Object.entries(security.findResources('AWS::IAM::ManagedPolicy')).filter(([id]) => id.startsWith('PipelineRole'));
    const invoke = policies.flatMap(([, p]: any) => p.Properties.PolicyDocument.Statement).filter((s: any) => [s.Action].flat().includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    expect(JSON.stringify(invoke[0].Resource)).toMatch(/:function:fmft-dev-find-production-version"\]\]\}$/);
    expect(JSON.stringify(security.toJSON())).not.toContain('fmft-dev-pipelines');
  });

  test("the served versions of this group, most traffic first, are the finder's candidates; other groups' are left out", () => {
    expect(servedVersions(prodConfig)).toEqual([
      'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-prod-fine-tuning-models/3',
      'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-prod-fine-tuning-models/4',
      'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-prod-fine-tuning-models/5',
    ]);
    const fn = only(Template.fromStack(prod.platform.pipelines), 'AWS::Lambda::Function', 'ChampionFinderHandler');
    const settings = championSettings(fn);
    expect(settings.servedModelPackageArns).toEqual(servedVersions(prodConfig));
    // The staged promotion's manifest comes first when it serves.
    expect(settings.manifestKey).toBe(SERVING_MANIFEST_KEY);
    expect(settings.manifestBucket).toBe('<token>');
    const other = configWith(prodConfig, (c) => {
      c.serving.variants[0].modelPackageArn = 'arn:aws:sagemaker:us-east-1:111122223333:model-package/someone-elses-models/1';
    });
    const otherFn = only(Template.fromStack(synthesizeEnvironment(other).platform.pipelines), 'AWS::Lambda::Function', 'ChampionFinderHandler');
    expect(championSettings(otherFn).servedModelPackageArns).not.toContain(
      'arn:aws:sagemaker:us-east-1:111122223333:model-package/someone-elses-models/1',
    );
  });

  test('without againstProduction there is no finder and no Lambda step', () => {
    const absolute = configWith(ENVIRONMENTS.dev, (c) => delete c.training.qualityGate.againstProduction);
    const template = Template.fromStack(synthesizeEnvironment(absolute).platform.pipelines);
    expect(Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('ChampionFinder'))).toEqual([]);
    expect(definition(template).Steps.map((s: any) => s.Type)).not.toContain('Lambda');
  });
});
