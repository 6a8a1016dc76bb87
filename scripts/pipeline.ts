// Recent pipeline executions with their steps, jobs, estimated costs and metrics, and a tuning job's training
// jobs ranked by the objective. `npx tsx scripts/pipeline.ts --help` lists the commands, `<command> --help`
// their options. Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION). See README.
import { runCli } from '../lib/operations/pipeline-cli';

runCli(process.argv.slice(2), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }).then(
  (status) => {
    process.exitCode = status;
  },
  (e) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
