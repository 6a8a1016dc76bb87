import { buildFineTuningPipeline } from '../../lib/pipeline/fine-tuning-pipeline';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { applySchemaOverlay, PIPELINE_SCHEMA_OVERLAY, PUBLISHED_SCHEMA_PATH, resolvePointer } from '../../lib/pipeline/schema/overlay';
import { baseProps, errorsOf, loadPublishedSchema, overlaidValidator, tuningOptions, validatorFor } from './fixtures';

describe('generated definitions validate against the published schema plus overlay', () => {
  const validate = overlaidValidator();
  const variants: Record<string, () => unknown> = {
    'training, spot, perplexity gate (maximum)': () => buildFineTuningPipeline(baseProps()),
    'training, on-demand': () => buildFineTuningPipeline({ ...baseProps(), spot: false }),
    'tuning, spot': () => buildFineTuningPipeline({ ...baseProps(), tuning: tuningOptions }),
    'compared with the production version (Lambda step)': () =>
      buildFineTuningPipeline({
        ...baseProps(),
        champion: { functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:find', margin: 0, confidence: 0.95, guards: { 'fairness_metrics.max_disparity': 0.02 } },
      }),
    'classification gate (minimum)': () =>
      buildFineTuningPipeline({
        ...baseProps(),
        evaluation: { task: 'classification', metricPath: 'multiclass_classification_metrics.accuracy.value', minimum: 0.8 },
        dataPreparation: { target: 'classification', splitRatios: [0.7, 0.15, 0.15], seed: 7 },
      }),
  };
  for (const [name, build] of Object.entries(variants)) {
    test(name, () => {
      const definition = JSON.parse(JSON.stringify(build()));
      const ok = validate(definition);
      if (!ok) throw new Error(`schema errors:\n${errorsOf(validate)}`);
    });
  }

  test('the published schema alone rejects the definition (the overlay is needed, not decorative)', () => {
    const plain = validatorFor(loadPublishedSchema());
    expect(plain(JSON.parse(JSON.stringify(buildFineTuningPipeline(baseProps()))))).toBe(false);
  });

  test('a definition with an unknown field still fails: validation is on', () => {
    const definition: any = JSON.parse(JSON.stringify(buildFineTuningPipeline(baseProps())));
    definition.Steps[0].Arguments.NotAnApiField = true;
    expect(validate(definition)).toBe(false);
  });
});

describe('the vendored schema', () => {
  test('lives in the repository and is the file its README names (same SHA-256)', () => {
    const root = path.resolve(__dirname, '..', '..');
    expect(path.relative(root, PUBLISHED_SCHEMA_PATH).startsWith('..')).toBe(false);
    const readme = fs.readFileSync(path.join(path.dirname(PUBLISHED_SCHEMA_PATH), 'README.md'), 'utf8');
    const documented = /SHA-256 \| `([0-9a-f]{64})`/.exec(readme)?.[1];
    expect(documented).toBeDefined();
    expect(createHash('sha256').update(fs.readFileSync(PUBLISHED_SCHEMA_PATH)).digest('hex')).toBe(documented);
  });
});

describe('schema overlay', () => {
  test('only adds: removing every addition gives back the published schema exactly', () => {
    const published = loadPublishedSchema();
    const patched = applySchemaOverlay(published);
    expect(patched).not.toEqual(published);
    for (const d of PIPELINE_SCHEMA_OVERLAY.definitions) {
      expect(published.definitions[d.name]).toBeUndefined();
      delete patched.definitions[d.name];
    }
    for (const p of PIPELINE_SCHEMA_OVERLAY.properties) {
      const target = resolvePointer(patched, p.at)!;
      expect(target.required ?? []).not.toContain(p.name); // added properties stay optional
      delete target.properties[p.name];
    }
    for (const a of [...PIPELINE_SCHEMA_OVERLAY.alternatives].reverse()) {
      const target = resolvePointer(patched, a.at)!;
      const original = resolvePointer(published, a.at)!;
      if (original.oneOf || original.anyOf) {
        const list = original.oneOf ? target.oneOf : target.anyOf;
        expect(list[list.length - 1].$comment).toBe(a.$comment);
        list.pop();
      } else {
        expect(Object.keys(target)).toEqual(['anyOf']);
        expect(target.anyOf[0]).toEqual(original); // the published schema is kept as the first branch
        const restored = target.anyOf[0];
        delete target.anyOf;
        Object.assign(target, restored);
      }
    }
    expect(patched).toEqual(published);
  });

  test('does not modify the schema it is given', () => {
    const published = loadPublishedSchema();
    const before = JSON.stringify(published);
    applySchemaOverlay(published);
    expect(JSON.stringify(published)).toBe(before);
  });

  test('every addition cites the API or guide it comes from', () => {
    const all = [...PIPELINE_SCHEMA_OVERLAY.definitions, ...PIPELINE_SCHEMA_OVERLAY.properties, ...PIPELINE_SCHEMA_OVERLAY.alternatives];
    expect(all.length).toBeGreaterThan(0);
    for (const addition of all) expect(addition.$comment).toMatch(/API|developer guide|Pipelines/);
    const approval = PIPELINE_SCHEMA_OVERLAY.properties.find((p) => p.name === 'ModelApprovalStatus');
    expect(approval?.$comment).toMatch(/CreateModelPackage API: ModelApprovalStatus/);
  });

  test('refuses an overlay that would replace an existing property or definition', () => {
    const published = loadPublishedSchema();
    expect(() =>
      applySchemaOverlay(published, { definitions: [], alternatives: [], properties: [{ at: '/definitions/ProcessingStep', name: 'Arguments', $comment: 'x', schema: {} }] }),
    ).toThrow(/already has property 'Arguments'/);
    expect(() =>
      applySchemaOverlay(published, { definitions: [{ name: 'GetFunction', $comment: 'x', schema: {} }], alternatives: [], properties: [] }),
    ).toThrow(/definition 'GetFunction' already exists/);
    expect(() =>
      applySchemaOverlay(published, { definitions: [], properties: [], alternatives: [{ at: '/definitions/Nope', $comment: 'x', schema: {} }] }),
    ).toThrow(/\/definitions\/Nope does not exist/);
  });
});
