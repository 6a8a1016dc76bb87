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

function synthArchive(): { archive: string; asset: TrainingCodeAsset; stack: Stack } {
  const app = testApp();
  const stack = new Stack(app, 'S', { env: { region: 'us-east-1' } });
  const asset = new TrainingCodeAsset(stack, 'Code', { sourceDirectory: TRAINING_DIR });
  // A stack needs a resource to synthesize; the grant is also what the last test inspects.
  asset.grantRead(new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') }));
  const assembly = app.synth();
  // A single-file asset is staged as asset.<hash><extension>.
  const archive = path.join(assembly.directory, `asset.${asset.asset.assetHash}.tar.gz`);
  return { archive, asset, stack };
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

  test('grantRead allows GetObject on exactly the archive, and listing of its key only', () => {
    const policy = Object.values(Template.fromStack(first.stack).findResources('AWS::IAM::Policy'))[0];
    const [statement, list] = policy.Properties.PolicyDocument.Statement;
    expect(list.Action).toBe('s3:ListBucket');
    expect(list.Condition).toEqual({ StringEquals: { 's3:prefix': first.asset.asset.s3ObjectKey } });
    expect(statement.Action).toBe('s3:GetObject');
    expect(JSON.stringify(statement.Resource)).toContain(`/${first.asset.asset.assetHash}.gz`);
    expect(JSON.stringify(statement.Resource)).not.toContain('*');
  });

  test.each<[string, object, RegExp]>([
    ['a missing directory', { sourceDirectory: path.join(os.tmpdir(), 'no-such-dir-xyz') }, /sourceDirectory must be an existing directory/],
    ['a package name that is not an identifier', { sourceDirectory: TRAINING_DIR, packageName: 'my-code' }, /packageName must be a Python identifier, got 'my-code'/],
  ])('rejects %s', (_name, props, message) => {
    const stack = new Stack(testApp(), 'S');
    expect(() => new TrainingCodeAsset(stack, 'Code', props as any)).toThrow(message);
  });
});
