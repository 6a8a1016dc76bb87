// Operate a live endpoint's variants: status, gradual shift, promote, instant rollback, A/B result.
// Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION). See README.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { parseCommand, runCommand } from '../lib/operations/cli';

async function main(): Promise<void> {
  let cmd;
  try {
    cmd = parseCommand(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  const result = await runCommand(cmd, new SageMakerClient({}), new CloudWatchClient({}), new S3Client({}));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if ((result as { outcome?: string }).outcome === 'reverted') process.exit(3);
}

main().catch((e) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
