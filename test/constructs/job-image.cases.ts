import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { JobImage } from '../../lib/constructs/job-image';
import { MlServiceRole } from '../../lib/constructs/ml-service-role';
import { testStack } from '../support/app';

const TRAINING = path.join(__dirname, '..', '..', 'training');
const BASE = '763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-training:2.9.0-gpu-py312';

describe('JobImage', () => {
  test('stages only the Dockerfile and requirements.txt, with the base image as build argument', () => {
    const stack = testStack();
    const image = new JobImage(stack, 'Image', { directory: TRAINING, baseImage: BASE });
    image.grantPull(new MlServiceRole(stack, 'Role', { trust: { service: 'sagemaker.amazonaws.com' }, description: 'jobs' }));
    const app = stack.node.root as App;
    const outdir = app.synth().directory;
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, `${stack.artifactId}.assets.json`), 'utf8'));
    const docker = manifest.dockerImages[image.asset.assetHash];
    expect(docker.source.dockerBuildArgs).toEqual({ BASE_IMAGE: BASE });
    expect(fs.readdirSync(path.join(outdir, docker.source.directory)).sort()).toEqual(['Dockerfile', 'requirements.txt']);
  });

  test('the tag follows the requirements and the base image, not the rest of the code', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'job-image-'));
    for (const f of ['Dockerfile', 'requirements.txt']) fs.copyFileSync(path.join(TRAINING, f), path.join(copy, f));
    const hash = (dir: string, base = BASE) => new JobImage(testStack(), 'Image', { directory: dir, baseImage: base }).asset.assetHash;
    const original = hash(copy);
    fs.writeFileSync(path.join(copy, 'unrelated.py'), 'print(1)\n');
    expect(hash(copy)).toBe(original);
    expect(hash(copy, `${BASE}-v2`)).not.toBe(original);
    fs.appendFileSync(path.join(copy, 'requirements.txt'), 'tqdm==4.67.1\n');
    expect(hash(copy)).not.toBe(original);
  });

  test('grantPull lets the role pull from the asset repository, in its managed policy', () => {
    const stack = testStack();
    const image = new JobImage(stack, 'Image', { directory: TRAINING, baseImage: BASE });
    const role = new MlServiceRole(stack, 'Role', { trust: { service: 'sagemaker.amazonaws.com' }, description: 'jobs' });
    image.grantPull(role);
    const policy = Object.values(Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy'))[0];
    const text = JSON.stringify(policy);
    expect(text).toContain('ecr:BatchGetImage');
    expect(text).toContain('container-assets-');
  });

  test.each([
    ['a directory without a Dockerfile', path.join(TRAINING, 'data'), BASE, /directory: got '.*data'; it lacks Dockerfile, requirements.txt/],
    ['an image without a tag', TRAINING, '763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-training', /baseImage: got '.*'; allowed:/],
    ['an empty base image', TRAINING, '', /baseImage: got ''; allowed:/],
  ])('rejects %s', (_label, directory, baseImage, message) => {
    expect(() => new JobImage(testStack(), 'Image', { directory, baseImage })).toThrow(message);
  });
});
