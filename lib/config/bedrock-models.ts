import table from '../../training/contracts/bedrock-models.json';
import type { BedrockConfig, BedrockModelSpec, CustomizationType } from './environment-config';
import type { Report } from './schema-kit';

/** One hyperparameter's range, inclusive, as the API reference gives it. */
export interface HyperParameterRange {
  readonly type: 'integer' | 'float';
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

export interface BedrockBaseModel {
  readonly id: string;
  readonly family: string;
  readonly customizationTypes: readonly CustomizationType[];
  readonly hyperParameters: Readonly<Record<string, HyperParameterRange>>;
}

/** Families (data format and limits) of training/contracts/bedrock-models.json. */
export const BEDROCK_FAMILIES: readonly string[] = Object.keys(table.families);

/** Named hyperparameter sets of the table, which an extra model may refer to. */
export const HYPERPARAMETER_SETS: readonly string[] = Object.keys(table.hyperParameterSets);

/** The table's models plus the environment's `extraModels`: the one source the config check and the state machine use. */
export function bedrockModels(extra: Readonly<Record<string, BedrockModelSpec>> = {}): Record<string, BedrockBaseModel> {
  const sets = table.hyperParameterSets as Record<string, Record<string, HyperParameterRange>>;
  const specs: Record<string, BedrockModelSpec> = { ...(table.models as Record<string, BedrockModelSpec>), ...extra };
  const models: Record<string, BedrockBaseModel> = {};
  for (const [id, spec] of Object.entries(specs)) {
    const ranges = typeof spec.hyperParameters === 'string' ? (sets[spec.hyperParameters] ?? {}) : spec.hyperParameters;
    models[id] = { id, family: spec.family, customizationTypes: spec.customizationTypes, hyperParameters: ranges };
  }
  return models;
}

/**
 * The checks of the `bedrock` section against the model table (the schema has checked shapes and types
 * already); paths are relative to `bedrock`.
 */
export function findBedrockProblems(b: BedrockConfig, report: Report): void {
  for (const [id, spec] of Object.entries(b.extraModels ?? {})) {
    const at = ['extraModels', id];
    if (!/^[a-z0-9-]+\.[\w.:-]+$/.test(id)) report(['extraModels'], id, 'allowed: model ids such as amazon.nova-micro-v1:0:128k');
    if (!BEDROCK_FAMILIES.includes(spec.family)) report([...at, 'family'], spec.family, `allowed: ${BEDROCK_FAMILIES.join(', ')}`);
    if (typeof spec.hyperParameters === 'string' && !HYPERPARAMETER_SETS.includes(spec.hyperParameters)) {
      report([...at, 'hyperParameters'], spec.hyperParameters, `allowed: ${HYPERPARAMETER_SETS.join(', ')}, or the ranges inline`);
    }
    if (typeof spec.hyperParameters === 'object') {
      for (const [name, r] of Object.entries(spec.hyperParameters)) {
        if (!(r.min <= r.default && r.default <= r.max)) report([...at, 'hyperParameters', name], r, 'allowed: min <= default <= max');
      }
    }
  }

  const models = bedrockModels(b.extraModels);
  const d = b.defaults;
  const model = models[d.baseModelId];
  if (!model) {
    report(['defaults', 'baseModelId'], d.baseModelId, `allowed: ${Object.keys(models).join(', ')}, or add it in bedrock.extraModels`);
  } else {
    if (!model.customizationTypes.includes(d.customizationType)) {
      report(['defaults', 'customizationType'], d.customizationType, `allowed for ${model.id}: ${model.customizationTypes.join(', ')}`);
    }
    for (const [name, value] of Object.entries(d.hyperParameters)) {
      const at = ['defaults', 'hyperParameters', name];
      const range = model.hyperParameters[name];
      if (!range) {
        report(at, value, `not a hyperparameter of ${model.id}; allowed: ${Object.keys(model.hyperParameters).join(', ')}`);
      } else if (range.type === 'integer' && !Number.isInteger(value)) {
        report(at, value, `allowed: an integer from ${range.min} to ${range.max}`);
      } else if (value < range.min || value > range.max) {
        report(at, value, `allowed for ${model.id}: ${range.min} to ${range.max}`);
      }
    }
  }
  if (d.provisionedModelUnits > b.maxProvisionedModelUnits) {
    report(['defaults', 'provisionedModelUnits'], d.provisionedModelUnits, `allowed: a whole number from 0 to bedrock.maxProvisionedModelUnits (${b.maxProvisionedModelUnits})`);
  }
}
