import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Template } from 'aws-cdk-lib/assertions';
import { TrainingCodeAsset } from '../../lib/constructs/training-code-asset';
import { testApp } from '../support/app';

const TRAINING_DIR = path.join(__dirname, '..', '..', 'training');

function synthArchive(context: Record<string, unknown> = {}): { archive: string; launcher: string; asset: TrainingCodeAsset; stack: Stack } {
  const app = testApp();
  for (const [key, value] of Object.entries(context)) app.node.setContext(key, value);
  const stack = new Stack(app, 'S', { env: { region: 'us-east-1' } });
  const asset = new TrainingCodeAsset(stack, 'Code', { sourceDirectory: TRAINING_DIR });
  // A stack needs a resource to synthesize; the grant is also what the last test inspects.
  asset.grantRead(new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') }));
  const assembly = app.synth();
  // A single-file asset is staged as asset.<hash><extension>.
  const archive = path.join(assembly.directory, `asset.${asset.asset.assetHash}.tar.gz`);
  const launcher = path.join(assembly.directory, `asset.${asset.launcher.assetHash}.py`);
  return { archive, launcher, asset, stack };
}

describe('TrainingCodeAsset', () => {
  const first = synthArchive();

  test('is a gzipped tar of the package without tests or caches', () => {
    expect(first.archive).toMatch(/\.tar\.gz$/);
    const listing = execFileSync('tar', ['-tzf', first.archive], { encoding: 'utf8' }).split('\n');
    expect(listing).toEqual(expect.arrayContaining(['training/data/__main__.py', 'training/evaluate/__main__.py', 'training/contracts/storage-layout.json']));
    expect(listing.filter((f) => /\/tests\/|__pycache__|\.pyc$/.test(f))).toEqual([]);
  });

  test('the same source gives the same bytes and hash', () => {
    const second = synthArchive();
    expect(second.asset.asset.assetHash).toBe(first.asset.asset.assetHash);
    expect(fs.readFileSync(second.archive).equals(fs.readFileSync(first.archive))).toBe(true);
  });

  test('the launcher is its own object, the repository file unchanged', () => {
    expect(fs.readFileSync(first.launcher, 'utf8')).toBe(fs.readFileSync(path.join(TRAINING_DIR, 'run_module.py'), 'utf8'));
    expect(first.asset.jobCode.launcherFileName).toBe(`${first.asset.launcher.assetHash}.py`);
    expect(first.asset.jobCode.archiveFileName).toBe(`${first.asset.asset.assetHash}.gz`);
  });

  test('skipped bundling (cdk ls, destroy, diff) stages the same gzipped tar, not a zip', () => {
    const skipped = synthArchive({ 'aws:cdk:bundling-stacks': [] });
    expect(skipped.asset.jobCode.archiveFileName).toBe(first.asset.jobCode.archiveFileName);
    expect(fs.readFileSync(skipped.archive).equals(fs.readFileSync(first.archive))).toBe(true);
  });

  test('grantRead allows GetObject on exactly the archive and the launcher, and listing of their keys only', () => {
    const policy = Object.values(Template.fromStack(first.stack).findResources('AWS::IAM::Policy'))[0];
    const statements: any[] = policy.Properties.PolicyDocument.Statement;
    const gets = statements.filter((st) => st.Action === 's3:GetObject');
    const lists = statements.filter((st) => st.Action === 's3:ListBucket');
    expect(gets.length + lists.length).toBe(statements.length);
    const resources = JSON.stringify(gets.map((st) => st.Resource));
    expect(resources).toContain(`/${first.asset.asset.assetHash}.gz`);
    expect(resources).toContain(`/${first.asset.launcher.assetHash}.py`);
    expect(resources).not.toContain('*');
    expect(lists.map((st) => st.Condition.StringEquals['s3:prefix']).sort()).toEqual(
      [first.asset.asset.s3ObjectKey, first.asset.launcher.s3ObjectKey].sort(),
    );
  });

  test('grantReadArchive allows the archive only (training jobs do not run the launcher)', () => {
    const stack = new Stack(testApp(), 'S', { env: { region: 'us-east-1' } });
    const code = new TrainingCodeAsset(stack, 'Code', { sourceDirectory: TRAINING_DIR });
    code.grantReadArchive(new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') }));
    const text = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(text).toContain(`${code.asset.assetHash}.gz`);
    expect(text).not.toContain(`${code.launcher.assetHash}.py`);
  });

  test.each<[string, object, RegExp]>([
    ['a missing directory', { sourceDirectory: path.join(os.tmpdir(), 'no-such-dir-xyz') }, /sourceDirectory must be an existing directory/],
    ['a package name that is not an identifier', { sourceDirectory: TRAINING_DIR, packageName: 'my-code' }, /packageName must be a Python identifier, got 'my-code'/],
    ['a directory without the launcher', { sourceDirectory: path.join(TRAINING_DIR, 'contracts') }, /sourceDirectory must contain the processing-job launcher run_module.py/],
  ])('rejects %s', (_name, props, message) => {
    const stack = new Stack(testApp(), 'S');
    expect(() => new TrainingCodeAsset(stack, 'Code', props as any)).toThrow(message);
  });
});
