import * as fs from 'fs';
import * as path from 'path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** Sub-packages of `training/` the Lambda handlers import: pure standard library plus boto3 from the runtime. */
export const HANDLER_PACKAGES = ['__init__.py', 'bedrock', 'data', 'common', 'contracts', 'cost', 'dr', 'monitor', 'registry', 'triggers'] as const;

/**
 * The Python Lambda code: `training/` reduced to HANDLER_PACKAGES, copied locally (no Docker, no pip),
 * so the handlers run the same data validator and model table as the jobs and the tests. The asset hash
 * is the hash of the copied files: a change elsewhere in `training/` does not redeploy the functions.
 */
export function pythonHandlersCode(trainingDirectory: string): lambda.Code {
  const source = path.resolve(trainingDirectory);
  const missing = HANDLER_PACKAGES.filter((p) => !fs.existsSync(path.join(source, p)));
  if (missing.length > 0) {
    throw new Error(`trainingDirectory: got '${trainingDirectory}'; it lacks ${missing.join(', ')}`);
  }
  return lambda.Code.fromAsset(source, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: the local bundling below always succeeds.
      image: DockerImage.fromRegistry('local-bundling-only'),
      local: {
        tryBundle(outputDir: string): boolean {
          const target = path.join(outputDir, path.basename(source));
          for (const entry of HANDLER_PACKAGES) {
            fs.cpSync(path.join(source, entry), path.join(target, entry), {
              recursive: true,
              filter: (p) => !/(__pycache__|\.pyc$|\.pytest_cache)/.test(p),
            });
          }
          return true;
        },
      },
    },
  });
}
