import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { ConfigValidationError } from '../../lib/config/validate';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const ARN = 'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-dev-fine-tuning-models/1';
const variant = (change: Record<string, unknown> = {}) => ({ name: 'a', modelPackageArn: ARN, initialWeight: 1, instanceType: 'ml.g5.xlarge', minInstances: 1, maxInstances: 2, ...change });
const component = (change: Record<string, unknown> = {}) => ({ name: 'm', modelPackageArn: ARN, copies: 1, acceleratorsPerCopy: 1, memoryMiB: 8192, ...change });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serving-overrides-'));
let files = 0;
/** A serving file with `content` (JSON text, or a value to write as JSON). */
const servingFile = (content: unknown) => {
  const file = path.join(dir, `serving-${++files}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
};
const load = (content: unknown, env = 'dev') => () => loadEnvironmentConfig(env, servingFile(content));

describe('served models from a file (-c serving=...)', () => {
  test('replace the environment variants and shared endpoint, and pass validation', () => {
    const config = loadEnvironmentConfig('prod', FIXTURE);
    expect(config.serving.variants.map((v) => v.name)).toEqual(['current', 'candidate']);
    expect(config.serving.sharedEndpoint?.components.map((c) => c.name)).toEqual(['support-assistant', 'claims-summarizer']);
    expect(ENVIRONMENTS.prod.serving.variants).toEqual([]);
  });

  test('are validated with the rest of the config, and the message names the file', () => {
    const file = servingFile({ variants: [variant({ minInstances: 1 })] });
    expect(() => loadEnvironmentConfig('prod', file)).toThrow(ConfigValidationError);
    expect(() => loadEnvironmentConfig('prod', file)).toThrow(`Invalid configuration for environment 'prod' (serving from ${file}):`);
    expect(() => loadEnvironmentConfig('prod', file)).toThrow(/serving.variants\[0\].minInstances: got 1; allowed: a whole number >= 2/);
  });

  test('every problem of a component is reported at once', () => {
    const problems = load({ sharedEndpoint: { instanceType: 'ml.g5.12xlarge', minInstances: 1, maxInstances: 2, components: [component({ modelPackageArn: 'x', copies: 0, memoryMiB: 10 })] } });
    expect(problems).toThrow(/serving.sharedEndpoint.components\[0\].modelPackageArn: got "x"; allowed: a versioned model package ARN/);
    expect(problems).toThrow(/serving.sharedEndpoint.components\[0\].copies: got 0; allowed: a whole number >= 1/);
    expect(problems).toThrow(/serving.sharedEndpoint.components\[0\].memoryMiB: got 10; allowed: a whole number of MiB >= 1024/);
  });
});

describe('the serving file is strict', () => {
  test.each<[string, unknown, RegExp]>([
    [
      'an unknown key inside a variant',
      { variants: [{ ...variant(), instanceTyp: 'ml.g5.xlarge' }] },
      /^- serving.variants\[0\].instanceTyp: unknown key; allowed: name, modelPackageArn, initialWeight, instanceType, minInstances, maxInstances$/m,
    ],
    [
      'an unknown key inside a component',
      { sharedEndpoint: { instanceType: 'ml.g5.12xlarge', minInstances: 1, maxInstances: 1, components: [{ ...component(), gpus: 1 }] } },
      /^- serving.sharedEndpoint.components\[0\].gpus: unknown key; allowed: name, modelPackageArn, copies, acceleratorsPerCopy, memoryMiB$/m,
    ],
    ['an unknown top-level key', { endpoints: [] }, /^- serving.endpoints: unknown key; allowed: variants, sharedEndpoint, bedrockModels$/m],
    [
      'a null variant',
      { variants: [null] },
      /^- serving.variants\[0\]: got null; allowed: an object with name, modelPackageArn, initialWeight, instanceType, minInstances, maxInstances$/m,
    ],
    ['null variants', { variants: null }, /^- serving.variants: got null; allowed: a list of variants$/m],
    ['a null shared endpoint', { sharedEndpoint: null }, /^- serving.sharedEndpoint: got null; allowed: an object with instanceType, minInstances, maxInstances, components$/m],
    ['a null inside a variant', { variants: [variant({ maxInstances: null })] }, /^- serving.variants\[0\].maxInstances: got null; allowed: a whole number$/m],
    ['a number given as a string', { variants: [variant({ minInstances: '2' })] }, /^- serving.variants\[0\].minInstances: got "2"; allowed: a whole number$/m],
    ['variants that are no list', { variants: { name: 'a' } }, /^- serving.variants: got \{"name":"a"\}; allowed: a list of variants$/m],
    [
      'a shared endpoint without components (an error, not a TypeError)',
      { sharedEndpoint: { instanceType: 'ml.g5.12xlarge', minInstances: 1, maxInstances: 2 } },
      /^- serving.sharedEndpoint.components: missing; allowed: a list of inference components$/m,
    ],
    ['a variant without its model', { variants: [{ ...variant(), modelPackageArn: undefined }] }, /^- serving.variants\[0\].modelPackageArn: missing; allowed: a versioned model package ARN/m],
  ])('rejects %s, naming its path', (_name, content, message) => {
    expect(load(content)).toThrow(ConfigValidationError);
    expect(load(content)).toThrow(message);
  });

  test.each<[string, string, RegExp]>([
    ['a missing file', '/nonexistent/serving.json', /serving: got "\/nonexistent\/serving.json"; allowed: a readable JSON file such as/],
    ['an array', servingFile('[]'), /serving: got \[\]; allowed: an object with variants and\/or sharedEndpoint/],
    ['null', servingFile('null'), /serving: got null; allowed: an object with variants and\/or sharedEndpoint/],
    ['text that is not JSON', servingFile('{variants'), /serving: ".*" is not JSON \(/],
  ])('rejects %s as the file', (_name, file, message) => {
    expect(() => loadEnvironmentConfig('dev', file)).toThrow(ConfigValidationError);
    expect(() => loadEnvironmentConfig('dev', file)).toThrow(message);
  });
});
