import * as fs from 'fs';
import * as path from 'path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * A TypeScript Lambda handler bundled by the local esbuild package (no Docker) into one `index.js`, with
 * the project's pinned AWS SDK v3 inside (not the runtime's, which changes under us). The asset hash is the
 * bundle's, so only a change in what the handler imports redeploys it.
 */
/**
 * Bundles made in this process, by entry file. A test process synthesizes the same handlers for many
 * configurations; the bundle depends only on the sources, which do not change while a process runs.
 */
const bundles = new Map<string, string>();

export function typescriptHandlerCode(entry: string): lambda.Code {
  const file = path.resolve(entry);
  if (!fs.existsSync(file)) throw new Error(`entry: got '${entry}'; no such file`);
  return lambda.Code.fromAsset(path.dirname(file), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('local-bundling-only'),
      local: {
        tryBundle(outputDir: string): boolean {
          const outfile = path.join(outputDir, 'index.js');
          const bundled = bundles.get(file);
          if (bundled !== undefined) {
            fs.writeFileSync(outfile, bundled);
            return true;
          }
          // Loaded here so that only a synth that bundles needs esbuild (a dev dependency).
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const esbuild = require('esbuild') as typeof import('esbuild');
          esbuild.buildSync({
            entryPoints: [file],
            outfile,
            bundle: true,
            platform: 'node',
            target: 'node22',
            format: 'cjs',
            minify: true,
            sourcemap: false,
            legalComments: 'none',
            logLevel: 'error',
          });
          bundles.set(file, fs.readFileSync(outfile, 'utf8'));
          return true;
        },
      },
    },
  });
}
