import * as path from 'path';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { synthesizeEnvironment } from '../support/app';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const environments = {
  dev: synthesizeEnvironment(ENVIRONMENTS.dev),
  prod: synthesizeEnvironment(loadEnvironmentConfig('prod', FIXTURE)),
};

describe('EventBridge input transformers', () => {
  // EventBridge fills <name> from InputPathsMap or its predefined aws.events.* variables; anything else in
  // angle brackets would reach the alert verbatim, or be refused by PutTargets.
  test.each(Object.entries(environments))('every placeholder of every input template is defined (%s)', (_name, env) => {
    const problems: string[] = [];
    for (const [stack, template] of Object.entries(env.raw)) {
      for (const [id, resource] of Object.entries((template as any).Resources) as [string, any][]) {
        if (resource.Type !== 'AWS::Events::Rule') continue;
        for (const target of resource.Properties.Targets ?? []) {
          const transformer = target.InputTransformer;
          if (!transformer) continue;
          const defined = new Set(Object.keys(transformer.InputPathsMap ?? {}));
          const text = typeof transformer.InputTemplate === 'string' ? transformer.InputTemplate : JSON.stringify(transformer.InputTemplate);
          for (const [, name] of text.matchAll(/<([^<>\s]+)>/g)) {
            if (!defined.has(name) && !name.startsWith('aws.events.')) problems.push(`${stack}/${id}: <${name}> is not in InputPathsMap`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
