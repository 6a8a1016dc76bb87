import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateModelPackageCommand, CreateModelPackageGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { parseCommand, runCommand } from '../../lib/operations/cli';
import { MotoServer, motoClientConfig, startMoto } from '../support/moto';

// DescribeModelPackage and GetObject against a moto server on loopback; the comparison itself is the
// evaluation toolkit's (python -m training.evaluate compare) in the project's .venv.

let moto: MotoServer;
let sm: SageMakerClient;
let s3: S3Client;

beforeAll(async () => {
  moto = await startMoto();
  sm = new SageMakerClient(motoClientConfig(moto.endpoint));
  s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'evaluation' }));
  await sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'fmft-dev-fine-tuning-models' }));
}, 60_000);

afterAll(async () => {
  sm?.destroy();
  s3?.destroy();
  await moto?.stop();
});

async function version(perplexity: number): Promise<string> {
  const key = `evaluation/reports/run-${perplexity}/evaluation.json`;
  await s3.send(new PutObjectCommand({ Bucket: 'evaluation', Key: key, Body: JSON.stringify({ generation_metrics: { perplexity: { value: perplexity } } }) }));
  const out = await sm.send(
    new CreateModelPackageCommand({
      ModelPackageGroupName: 'fmft-dev-fine-tuning-models',
      InferenceSpecification: {
        Containers: [{ Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.36.0-lmi28.0.0-cu130' }],
        SupportedContentTypes: ['application/json'],
        SupportedResponseMIMETypes: ['application/json'],
      },
      ModelMetrics: { ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: `s3://evaluation/${key}` } } },
    }),
  );
  return out.ModelPackageArn!;
}

test('two registered versions compared with the evaluation toolkit, deltas against the first', async () => {
  const [older, newer] = [await version(12.5), await version(10)];
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'compare-'));
  const result: any = await runCommand(parseCommand(['compare', '--package', older, '--package', newer, '--output-dir', out]), sm, undefined as any, s3);
  expect(result.reports.map((r: any) => r.label)).toEqual(['v1', 'v2']);
  const perplexity = result.comparison.metrics['generation_metrics.perplexity'];
  expect(perplexity.values).toEqual({ v1: 12.5, v2: 10 });
  expect(perplexity.delta.v2).toBeCloseTo(-2.5, 12);
  expect(perplexity.improved.v2).toBe(true);
  expect(fs.existsSync(path.join(out, 'comparison.html'))).toBe(true);
}, 60_000);

test('a version without an attached report and a single version are refused', async () => {
  const bare = await sm.send(
    new CreateModelPackageCommand({
      ModelPackageGroupName: 'fmft-dev-fine-tuning-models',
      InferenceSpecification: { Containers: [{ Image: 'i' }], SupportedContentTypes: ['application/json'], SupportedResponseMIMETypes: ['application/json'] },
    }),
  );
  const other = await version(11);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'compare-'));
  await expect(runCommand(parseCommand(['compare', '--package', other, '--package', bare.ModelPackageArn!, '--output-dir', out]), sm, undefined as any, s3)).rejects.toThrow(
    /no evaluation report is attached/,
  );
  expect(() => parseCommand(['compare', '--package', other])).toThrow('compare: got 1 --package; give at least two model package versions');
});
