import table from '../../training/contracts/bedrock-models.json';
import { BedrockConfig, BedrockModelSpec, CUSTOMIZATION_TYPES, CustomizationType } from './environment-config';

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

/** The table's models plus the environment's `extraModels`: the one source the config check and the state machine use. */
export function bedrockModels(extra: Record<string, BedrockModelSpec> = {}): Record<string, BedrockBaseModel> {
  const sets = table.hyperParameterSets as Record<string, Record<string, HyperParameterRange>>;
  const specs: Record<string, BedrockModelSpec> = { ...(table.models as Record<string, BedrockModelSpec>), ...extra };
  const models: Record<string, BedrockBaseModel> = {};
  for (const [id, spec] of Object.entries(specs)) {
    const ranges = typeof spec.hyperParameters === 'string' ? (sets[spec.hyperParameters] ?? {}) : spec.hyperParameters;
    models[id] = { id, family: spec.family, customizationTypes: spec.customizationTypes, hyperParameters: ranges };
  }
  return models;
}

/** Every problem of the `bedrock` config section, each naming the key, the value and what is allowed. */
export function findBedrockProblems(b: BedrockConfig, bad: (key: string, value: unknown, allowed: string) => void): void {
  const sets = Object.keys(table.hyperParameterSets);
  for (const [id, spec] of Object.entries(b.extraModels ?? {})) {
    const key = `bedrock.extraModels.${id}`;
    if (!/^[a-z0-9-]+\.[\w.:-]+$/.test(id)) bad(`bedrock.extraModels`, id, 'allowed: model ids such as amazon.nova-micro-v1:0:128k');
    if (!BEDROCK_FAMILIES.includes(spec.family)) bad(`${key}.family`, spec.family, `allowed: ${BEDROCK_FAMILIES.join(', ')}`);
    if (typeof spec.hyperParameters === 'string' && !sets.includes(spec.hyperParameters)) {
      bad(`${key}.hyperParameters`, spec.hyperParameters, `allowed: ${sets.join(', ')}, or the ranges inline`);
    }
    if (typeof spec.hyperParameters === 'object') {
      for (const [name, r] of Object.entries(spec.hyperParameters)) {
        if (!(r.min <= r.default && r.default <= r.max)) bad(`${key}.hyperParameters.${name}`, r, 'allowed: min <= default <= max');
      }
    }
    const types = spec.customizationTypes ?? [];
    if (types.length === 0 || types.some((t) => !CUSTOMIZATION_TYPES.includes(t))) {
      bad(`${key}.customizationTypes`, types, `allowed: a non-empty list of ${CUSTOMIZATION_TYPES.join(', ')}`);
    }
  }

  const models = bedrockModels(b.extraModels);
  const d = b.defaults;
  const model = models[d.baseModelId];
  if (!model) {
    bad('bedrock.defaults.baseModelId', d.baseModelId, `allowed: ${Object.keys(models).join(', ')}, or add it in bedrock.extraModels`);
  } else {
    if (!model.customizationTypes.includes(d.customizationType)) {
      bad('bedrock.defaults.customizationType', d.customizationType, `allowed for ${model.id}: ${model.customizationTypes.join(', ')}`);
    }
    for (const [name, value] of Object.entries(d.hyperParameters)) {
      const key = `bedrock.defaults.hyperParameters.${name}`;
      const range = model.hyperParameters[name];
      if (!range) {
        bad(key, value, `not a hyperparameter of ${model.id}; allowed: ${Object.keys(model.hyperParameters).join(', ')}`);
      } else if (typeof value !== 'number' || !Number.isFinite(value) || (range.type === 'integer' && !Number.isInteger(value))) {
        bad(key, value, `allowed: ${range.type === 'integer' ? 'an integer' : 'a number'} from ${range.min} to ${range.max}`);
      } else if (value < range.min || value > range.max) {
        bad(key, value, `allowed for ${model.id}: ${range.min} to ${range.max}`);
      }
    }
  }
  if (!Number.isInteger(b.maxProvisionedModelUnits) || b.maxProvisionedModelUnits < 0 || b.maxProvisionedModelUnits > 100) {
    bad('bedrock.maxProvisionedModelUnits', b.maxProvisionedModelUnits, 'allowed: a whole number from 0 to 100');
  }
  if (!Number.isInteger(d.provisionedModelUnits) || d.provisionedModelUnits < 0 || d.provisionedModelUnits > b.maxProvisionedModelUnits) {
    bad('bedrock.defaults.provisionedModelUnits', d.provisionedModelUnits, `allowed: a whole number from 0 to bedrock.maxProvisionedModelUnits (${b.maxProvisionedModelUnits})`);
  }
  if (!Number.isInteger(d.maxEvaluationRecords) || d.maxEvaluationRecords < 1 || d.maxEvaluationRecords > 10000) {
    bad('bedrock.defaults.maxEvaluationRecords', d.maxEvaluationRecords, 'allowed: a whole number from 1 to 10000');
  }
  if (!Number.isInteger(b.throughputWaitMinutes) || b.throughputWaitMinutes < 5 || b.throughputWaitMinutes > 720) {
    bad('bedrock.throughputWaitMinutes', b.throughputWaitMinutes, 'allowed: a whole number of minutes from 5 to 720');
  }
  const guard = b.throughputGuard;
  if (!(guard.maxAgeHours >= 1 && guard.maxAgeHours <= 24 * 90)) {
    bad('bedrock.throughputGuard.maxAgeHours', guard.maxAgeHours, 'allowed: 1 to 2160 hours');
  }
}
