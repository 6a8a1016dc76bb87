import { COST_TAG_KEYS, costTags } from '../../lib/config/cost-tags';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { synthesizeEnvironment } from '../support/app';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);

/** Every state of every state machine (Map iterators too), with its template and machine. */
function allStates(raw: Record<string, any>): { where: string; state: any }[] {
  const found: { where: string; state: any }[] = [];
  const walk = (where: string, states: Record<string, any>) => {
    for (const [name, state] of Object.entries(states)) {
      found.push({ where: `${where} ${name}`, state });
      if (state.ItemProcessor?.States) walk(`${where} ${name}`, state.ItemProcessor.States);
      if (state.Iterator?.States) walk(`${where} ${name}`, state.Iterator.States);
    }
  };
  for (const [stack, template] of Object.entries(raw)) {
    for (const [id, r] of Object.entries(template.Resources) as [string, any][]) {
      if (r.Type !== 'AWS::StepFunctions::StateMachine') continue;
      const body = r.Properties.DefinitionString;
      const parts: unknown[] = typeof body === 'string' ? [body] : body['Fn::Join'][1];
      walk(`${stack}/${id}`, JSON.parse(parts.map((p) => (typeof p === 'string' ? p : '<token>')).join('')).States);
    }
  }
  return found;
}

/** The tag lists of a task that creates something billed by the hour or the job, by request member. */
const BILLED: { readonly resource: RegExp; readonly members: readonly string[] }[] = [
  { resource: /:sagemaker:createProcessingJob/, members: ['Tags'] },
  { resource: /:bedrock:createModelCustomizationJob/, members: ['JobTags', 'CustomModelTags'] },
  { resource: /:aws-sdk:bedrock:createProvisionedModelThroughput$/, members: ['Tags'] },
];

const EXPECTED_KEYS = [...Object.keys(costTags(ENVIRONMENTS.dev)), COST_TAG_KEYS.workflow, COST_TAG_KEYS.execution].sort();

/** What is wrong with the tags of each billed task among `states`; also how many billed tag lists there are. */
function tagProblems(states: { where: string; state: any }[]): { billed: number; problems: string[] } {
  let billed = 0;
  const problems: string[] = [];
  for (const { where, state } of states) {
    const kind = BILLED.find((b) => b.resource.test(String(state.Resource ?? '')));
    for (const member of kind?.members ?? []) {
      billed++;
      const tags: any[] = state.Parameters?.[member] ?? [];
      const keys = tags.map((t) => t.Key).sort();
      if (JSON.stringify(keys) !== JSON.stringify(EXPECTED_KEYS)) problems.push(`${where} ${member}: keys ${keys.join(', ')}; expected ${EXPECTED_KEYS.join(', ')}`);
      if (tags.find((t) => t.Key === COST_TAG_KEYS.execution)?.['Value.$'] !== '$$.Execution.Name') problems.push(`${where} ${member}: ${COST_TAG_KEYS.execution} is not the execution's name`);
      if (tags.find((t) => t.Key === COST_TAG_KEYS.environment)?.Value !== 'dev') problems.push(`${where} ${member}: ${COST_TAG_KEYS.environment} is not dev`);
    }
  }
  return { billed, problems };
}

describe('cost attribution', () => {
  test('every job, custom model and throughput a state machine creates carries the cost tags and its run', () => {
    const { billed, problems } = tagProblems(allStates(dev.raw));
    // The Bedrock customization (2 job states x 2 members), its throughput and evaluation, the monitor's job, the promotion's scoring job.
    expect(billed).toBeGreaterThanOrEqual(7);
    expect(problems).toEqual([]);
  });

  test('the same check finds a job without the run, and one without the cost centre', () => {
    const job = (tags: unknown[]) => ({ where: 'x', state: { Resource: 'arn:aws:states:::sagemaker:createProcessingJob.sync', Parameters: { Tags: tags } } });
    const full = EXPECTED_KEYS.map((Key) => (Key === COST_TAG_KEYS.execution ? { Key, 'Value.$': '$$.Execution.Name' } : { Key, Value: Key === COST_TAG_KEYS.environment ? 'dev' : 'v' }));
    expect(tagProblems([job(full)]).problems).toEqual([]);
    expect(tagProblems([job(full.filter((t) => t.Key !== COST_TAG_KEYS.execution))]).problems.length).toBeGreaterThan(0);
    expect(tagProblems([job(full.filter((t) => t.Key !== 'cost-center'))]).problems.length).toBeGreaterThan(0);
  });
});
