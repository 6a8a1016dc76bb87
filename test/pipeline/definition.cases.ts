import { Token } from 'aws-cdk-lib';
import {
  BooleanParameter,
  buildPipelineDefinition,
  ConditionStep,
  equals,
  ExecutionVariable,
  FailStep,
  FloatParameter,
  greaterThanOrEqualTo,
  IntegerParameter,
  isIn,
  Join,
  JsonGet,
  or,
  ProcessingJobArguments,
  ProcessingStep,
  RetryPolicy,
  stepProperty,
  StringParameter,
  TrainingJobArguments,
  TrainingStep,
  TuningStep,
} from '../../lib/pipeline/definition';
import { errorsOf, overlaidValidator } from './fixtures';

const vpc = { Subnets: ['subnet-0aaa1111'], SecurityGroupIds: ['sg-0abc'] };
const kms = 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555';

function processingArgs(change: Partial<ProcessingJobArguments> = {}): ProcessingJobArguments {
  return {
    RoleArn: 'arn:aws:iam::111122223333:role/x',
    AppSpecification: { ImageUri: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/p:1' },
    ProcessingOutputConfig: { Outputs: [{ OutputName: 'report', S3Output: { S3Uri: 's3://b/r', LocalPath: '/opt/ml/processing/output/report', S3UploadMode: 'EndOfJob' } }], KmsKeyId: kms },
    ProcessingResources: { ClusterConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 30, VolumeKmsKeyId: kms } },
    NetworkConfig: { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true, VpcConfig: vpc },
    StoppingCondition: { MaxRuntimeInSeconds: 3600 },
    ...change,
  };
}

function trainingArgs(change: Partial<TrainingJobArguments> = {}): TrainingJobArguments {
  return {
    RoleArn: 'arn:aws:iam::111122223333:role/x',
    AlgorithmSpecification: { TrainingImage: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/t:1', TrainingInputMode: 'File' },
    OutputDataConfig: { S3OutputPath: 's3://b/models', KmsKeyId: kms },
    ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeSizeInGB: 50, VolumeKmsKeyId: kms },
    StoppingCondition: { MaxRuntimeInSeconds: 3600 },
    VpcConfig: vpc,
    EnableNetworkIsolation: true,
    EnableInterContainerTrafficEncryption: true,
    ...change,
  };
}

const prep = (name = 'Prep', change?: Partial<ProcessingJobArguments>, extra: object = {}) =>
  new ProcessingStep(name, { arguments: processingArgs(change), ...extra });

describe('rendering', () => {
  test('parameters render as Get, with typed defaults, and the result validates against the schema', () => {
    const size = new IntegerParameter('VolumeSize', { defaultValue: 30, description: 'GB' });
    const instance = new StringParameter('InstanceType', { defaultValue: 'ml.m5.large' });
    const threshold = new FloatParameter('Threshold', { defaultValue: 0.5 });
    const flag = new BooleanParameter('Flag', { defaultValue: true });
    const p = prep('Prep', {
      ProcessingResources: { ClusterConfig: { InstanceType: instance, InstanceCount: 1, VolumeSizeInGB: size, VolumeKmsKeyId: kms } },
    }, { propertyFiles: [{ name: 'Report', outputName: 'report', filePath: 'report.json' }] });
    const gate = new ConditionStep('Gate', {
      conditions: [greaterThanOrEqualTo(p.jsonGet('Report', 'a.b'), threshold), or(equals(flag, true), isIn('a', ['a', 'b']))],
      elseSteps: [new FailStep('Stop', { errorMessage: new Join(' ', ['value', p.jsonGet('Report', 'a.b')]) })],
    });
    const def: any = buildPipelineDefinition({ parameters: [size, instance, threshold, flag], steps: [p, gate] });
    expect(def.Version).toBe('2020-12-01');
    expect(def.Parameters).toEqual([
      { Name: 'VolumeSize', Type: 'Integer', DefaultValue: 30, Description: 'GB' },
      { Name: 'InstanceType', Type: 'String', DefaultValue: 'ml.m5.large' },
      { Name: 'Threshold', Type: 'Float', DefaultValue: 0.5 },
      { Name: 'Flag', Type: 'Boolean', DefaultValue: true },
    ]);
    expect(def.Steps[0].Arguments.ProcessingResources.ClusterConfig.VolumeSizeInGB).toEqual({ Get: 'Parameters.VolumeSize' });
    expect(def.Steps[1].Arguments.Conditions[1]).toEqual({
      Type: 'Or',
      Conditions: [
        { Type: 'Equals', LeftValue: { Get: 'Parameters.Flag' }, RightValue: true },
        // The published schema's In condition uses oneOf over overlapping types, so only literals validate there.
        { Type: 'In', Value: 'a', In: ['a', 'b'] },
      ],
    });
    const validate = overlaidValidator();
    if (!validate(JSON.parse(JSON.stringify(def)))) throw new Error(errorsOf(validate));
  });

  test('DependsOn is written only for dependencies no reference implies', () => {
    const a = prep('A');
    const b = prep('B');
    const c = new ProcessingStep('C', {
      arguments: processingArgs({ Environment: { REPORT: a.outputUri('report') } }),
      dependsOn: [a, 'B'],
    });
    const def: any = buildPipelineDefinition({ steps: [a, b, c] });
    expect(def.Steps[2].DependsOn).toEqual(['B']);
    expect(def.Steps[0].DependsOn).toBeUndefined();
  });

  test('CDK tokens are copied, not inspected', () => {
    const role = Token.asString({ Ref: 'Role' });
    const def: any = buildPipelineDefinition({ steps: [prep('A', { RoleArn: role })] });
    expect(def.Steps[0].Arguments.RoleArn).toBe(role);
  });

  test('Join flattens same-separator joins and rewrites mixed separators on the empty string', () => {
    const id = ExecutionVariable.PIPELINE_EXECUTION_ID;
    expect(new Join('/', ['s3://b', new Join('/', ['x', id])]).values).toEqual(['s3://b', 'x', id]);
    const mixed = new Join('/', [new Join('', ['s3://b/p-', id]), 'model.tar.gz']);
    expect(mixed.on).toBe('');
    expect(mixed.values).toEqual(['s3://b/p-', id, '/', 'model.tar.gz']);
  });

  test('asking for an output a processing step does not have throws', () => {
    expect(() => prep('A').outputUri('nope')).toThrow(/Processing step 'A' has no output 'nope' \(outputs: report\)/);
  });
});

describe('builder validation (one rule per test)', () => {
  const throwsFor = (props: Parameters<typeof buildPipelineDefinition>[0], message: RegExp) =>
    expect(() => buildPipelineDefinition(props)).toThrow(message);

  test('bad step name', () => throwsFor({ steps: [prep('Bad Name!')] }, /step name 'Bad Name!' must match/));
  test('step name too long', () => throwsFor({ steps: [prep('x'.repeat(65))] }, /step name 'x{65}' must match/));
  test('duplicate step name', () => throwsFor({ steps: [prep('A'), prep('A')] }, /duplicate step name 'A'/));
  test('same step object twice', () => {
    const a = prep('A');
    throwsFor({ steps: [a, a] }, /step 'A' appears more than once/);
  });
  test('duplicate name between a top-level and a branch step', () =>
    throwsFor({ steps: [prep('A'), new ConditionStep('Gate', { conditions: [equals(1, 1)], ifSteps: [new FailStep('A', { errorMessage: 'x' })] })] }, /duplicate step name 'A'/));
  test('unknown step reference', () =>
    throwsFor({ steps: [prep('A', { Environment: { X: stepProperty('Missing', 'ModelArtifacts.S3ModelArtifacts') } })] }, /step 'A' references unknown step 'Missing' \(Steps.Missing.ModelArtifacts.S3ModelArtifacts\)/));
  test('self reference', () => throwsFor({ steps: [prep('A', { Environment: { X: stepProperty('A', 'ProcessingJobArn') } })] }, /step 'A' references itself/));
  test('unknown property file', () =>
    throwsFor({ steps: [prep('A'), new FailStep('F', { errorMessage: new Join(' ', [new JsonGet('A', 'Nope', 'x')]) })] }, /step 'F' reads property file 'Nope', which step 'A' does not declare/));
  test('property file on an unknown output', () =>
    throwsFor({ steps: [prep('A', {}, { propertyFiles: [{ name: 'R', outputName: 'missing', filePath: 'r.json' }] })] }, /step 'A': property file 'R' names unknown output 'missing'/));
  test('unknown parameter', () => {
    const p = new StringParameter('Image');
    throwsFor({ steps: [prep('A', { AppSpecification: { ImageUri: p } })] }, /step 'A' references unknown parameter 'Image'/);
  });
  test('parameter declared but unused', () => throwsFor({ parameters: [new StringParameter('Unused')], steps: [prep('A')] }, /parameter 'Unused' is declared but no step reads it/));
  test('bad parameter name', () => {
    const p = new StringParameter('bad name');
    throwsFor({ parameters: [p], steps: [prep('A', { AppSpecification: { ImageUri: p } })] }, /parameter name 'bad name' must match/);
  });
  test('duplicate parameter name', () => {
    const p1 = new StringParameter('Image');
    const p2 = new StringParameter('Image');
    throwsFor({ parameters: [p1, p2], steps: [prep('A', { AppSpecification: { ImageUri: p1 } })] }, /duplicate parameter name 'Image'/);
  });
  test('integer default not an integer', () => {
    const p = new IntegerParameter('Count', { defaultValue: 1.5 });
    throwsFor({ parameters: [p], steps: [prep('A', { ProcessingResources: { ClusterConfig: { InstanceType: 'ml.m5.large', InstanceCount: p, VolumeSizeInGB: 30, VolumeKmsKeyId: kms } } })] }, /parameter 'Count': default must be an integer, got 1.5/);
  });
  test('dependsOn an unknown step', () => throwsFor({ steps: [new ProcessingStep('A', { arguments: processingArgs(), dependsOn: ['Ghost'] })] }, /step 'A' depends on unknown step 'Ghost'/));
  test('dependency cycle', () =>
    throwsFor({ steps: [new ProcessingStep('A', { arguments: processingArgs(), dependsOn: ['B'] }), new ProcessingStep('B', { arguments: processingArgs(), dependsOn: ['A'] })] }, /dependency cycle: A -> B -> A/));
  test('condition without conditions', () => throwsFor({ steps: [new ConditionStep('Gate', { conditions: [], ifSteps: [new FailStep('F', { errorMessage: 'x' })] })] }, /step 'Gate': needs at least one condition/));
  test('bad display name', () => throwsFor({ steps: [new ProcessingStep('A', { arguments: processingArgs(), displayName: 'has spaces' })] }, /step 'A': displayName 'has spaces' must match/));

  describe('job security', () => {
    test('processing without network isolation', () =>
      throwsFor({ steps: [prep('A', { NetworkConfig: { EnableNetworkIsolation: false, EnableInterContainerTrafficEncryption: true, VpcConfig: vpc } })] }, /step 'A': NetworkConfig.EnableNetworkIsolation must be true/));
    test('processing without inter-container encryption', () =>
      throwsFor({ steps: [prep('A', { NetworkConfig: { EnableNetworkIsolation: true, VpcConfig: vpc } })] }, /NetworkConfig.EnableInterContainerTrafficEncryption must be true/));
    test('processing without VPC', () =>
      throwsFor({ steps: [prep('A', { NetworkConfig: { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true } })] }, /NetworkConfig.VpcConfig is required/));
    test('processing with empty subnets', () =>
      throwsFor({ steps: [prep('A', { NetworkConfig: { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true, VpcConfig: { Subnets: [], SecurityGroupIds: ['sg-1'] } } })] }, /NetworkConfig.VpcConfig.Subnets must not be empty/));
    test('processing without volume KMS key', () =>
      throwsFor({ steps: [prep('A', { ProcessingResources: { ClusterConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 30 } } })] }, /ClusterConfig.VolumeKmsKeyId is required/));
    test('processing without stopping condition', () => throwsFor({ steps: [prep('A', { StoppingCondition: undefined })] }, /StoppingCondition.MaxRuntimeInSeconds is required/));
    test('training without output KMS key', () =>
      throwsFor({ steps: [new TrainingStep('T', { arguments: trainingArgs({ OutputDataConfig: { S3OutputPath: 's3://b/m' } }) })] }, /step 'T': arguments.OutputDataConfig.KmsKeyId is required/));
    test('training without network isolation', () =>
      throwsFor({ steps: [new TrainingStep('T', { arguments: trainingArgs({ EnableNetworkIsolation: false }) })] }, /arguments.EnableNetworkIsolation must be true/));
    test('spot: MaxWait < MaxRuntime', () =>
      throwsFor({ steps: [new TrainingStep('T', { arguments: trainingArgs({ EnableManagedSpotTraining: true, StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 60 }, CheckpointConfig: { S3Uri: 's3://b/c' } }) })] }, /MaxWaitTimeInSeconds \(60\) must be at least MaxRuntimeInSeconds \(3600\)/));
    test('spot without checkpoints', () =>
      throwsFor({ steps: [new TrainingStep('T', { arguments: trainingArgs({ EnableManagedSpotTraining: true, StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 7200 } }) })] }, /CheckpointConfig.S3Uri is required with spot training/));
    test('spot from a runtime parameter', () => {
      const useSpot = new BooleanParameter('UseSpot', { defaultValue: true });
      throwsFor({ parameters: [useSpot], steps: [new TrainingStep('T', { arguments: trainingArgs({ EnableManagedSpotTraining: useSpot, StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 7200 }, CheckpointConfig: { S3Uri: 's3://b/c' } }) })] }, /EnableManagedSpotTraining must be a literal boolean/);
    });
    test('MaxWait without spot', () =>
      throwsFor({ steps: [new TrainingStep('T', { arguments: trainingArgs({ StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 7200 } }) })] }, /MaxWaitTimeInSeconds is only valid with spot training/));
    test('tuning: max parallel > max jobs', () =>
      throwsFor({
        steps: [new TuningStep('Tune', { arguments: {
          HyperParameterTuningJobConfig: { Strategy: 'Bayesian', HyperParameterTuningJobObjective: { Type: 'Minimize', MetricName: 'loss' }, ResourceLimits: { MaxNumberOfTrainingJobs: 2, MaxParallelTrainingJobs: 4 }, ParameterRanges: {} },
          TrainingJobDefinition: trainingArgs(),
        } })],
      }, /step 'Tune': MaxParallelTrainingJobs \(4\) must not exceed MaxNumberOfTrainingJobs \(2\)/));
  });

  describe('job tags (SageMaker TagList: at most 50, keys 1-128, values up to 256, unique keys)', () => {
    const tagged = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const tuning = (tags: { Key: string; Value: string }[]) =>
      new TuningStep('Tune', { arguments: {
        HyperParameterTuningJobConfig: { Strategy: 'Bayesian', HyperParameterTuningJobObjective: { Type: 'Minimize', MetricName: 'loss' }, ResourceLimits: { MaxNumberOfTrainingJobs: 2, MaxParallelTrainingJobs: 1 }, ParameterRanges: {} },
        TrainingJobDefinition: trainingArgs(),
        Tags: tags,
      } });
    test('51 tags on a processing job', () => throwsFor({ steps: [prep('A', { Tags: tagged(51) })] }, /step 'A': Tags: 51 tags, at most 50 allowed/));
    test('51 tags on a training job', () => throwsFor({ steps: [new TrainingStep('T', { arguments: trainingArgs({ Tags: tagged(51) }) })] }, /step 'T': Tags: 51 tags, at most 50 allowed/));
    test('51 tags on a tuning job', () => throwsFor({ steps: [tuning(tagged(51))] }, /step 'Tune': Tags: 51 tags, at most 50 allowed/));
    test('a repeated key', () => throwsFor({ steps: [prep('A', { Tags: [{ Key: 'a', Value: '1' }, { Key: 'a', Value: '2' }] })] }, /Tags: key 'a' appears more than once/));
    test('a key of 129 characters', () => throwsFor({ steps: [prep('A', { Tags: [{ Key: 'k'.repeat(129), Value: '' }] })] }, /Tags: key 'k{129}' must be 1-128 letters/));
    test('a key with a character the API refuses', () => throwsFor({ steps: [prep('A', { Tags: [{ Key: 'team#1', Value: 'x' }] })] }, /Tags: key 'team#1' must be 1-128 letters, digits, spaces and _.:\/=\+-@/));
    test('a key with the reserved prefix', () => throwsFor({ steps: [prep('A', { Tags: [{ Key: 'aws:owner', Value: 'x' }] })] }, /Tags: key 'aws:owner' must not start with aws:/));
    test('a value of 257 characters', () => throwsFor({ steps: [prep('A', { Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] })] }, /Tags: value of 'k' must be at most 256/));
    test('50 tags, an empty value and an expression as value are accepted, and render as {Key, Value}', () => {
      const tags = [...tagged(48), { Key: 'empty', Value: '' }, { Key: 'run', Value: ExecutionVariable.PIPELINE_EXECUTION_ID }];
      const def: any = buildPipelineDefinition({ steps: [prep('A', { Tags: tags })] });
      expect(def.Steps[0].Arguments.Tags).toHaveLength(50);
      expect(def.Steps[0].Arguments.Tags.slice(-2)).toEqual([{ Key: 'empty', Value: '' }, { Key: 'run', Value: { Get: 'Execution.PipelineExecutionId' } }]);
      const validate = overlaidValidator();
      if (!validate(JSON.parse(JSON.stringify(def)))) throw new Error(errorsOf(validate));
    });
  });

  describe('retry policies', () => {
    const withRetry = (policy: RetryPolicy) => ({ steps: [prep('A', {}, { retryPolicies: [policy] })] });
    test('both maxAttempts and expireAfterMinutes', () =>
      throwsFor(withRetry({ exceptionTypes: ['Step.THROTTLING'], maxAttempts: 3, expireAfterMinutes: 10 }), /retry policy 1: give exactly one of maxAttempts and expireAfterMinutes/));
    test('neither', () => throwsFor(withRetry({ exceptionTypes: ['Step.THROTTLING'] }), /give exactly one of maxAttempts and expireAfterMinutes/));
    test('no exception types', () => throwsFor(withRetry({ exceptionTypes: [], maxAttempts: 3 }), /exceptionTypes must not be empty/));
    test('unknown exception type', () => throwsFor(withRetry({ exceptionTypes: ['Step.ANYTHING' as any], maxAttempts: 3 }), /unknown exception type 'Step.ANYTHING'/));
    test('expireAfterMinutes above the limit', () => throwsFor(withRetry({ exceptionTypes: ['Step.THROTTLING'], expireAfterMinutes: 20000 }), /expireAfterMinutes must be an integer from 1 to 14400/));
    test('interval not positive', () => throwsFor(withRetry({ exceptionTypes: ['Step.THROTTLING'], maxAttempts: 2, intervalSeconds: 0 }), /intervalSeconds must be a positive integer/));
    test('backoff below 1', () => throwsFor(withRetry({ exceptionTypes: ['Step.THROTTLING'], maxAttempts: 2, backoffRate: 0.5 }), /backoffRate must be at least 1/));
    test('renders as the service expects', () => {
      const def: any = buildPipelineDefinition(withRetry({ exceptionTypes: ['SageMaker.CAPACITY_ERROR'], expireAfterMinutes: 120, intervalSeconds: 30 }));
      expect(def.Steps[0].RetryPolicies).toEqual([{ ExceptionType: ['SageMaker.CAPACITY_ERROR'], IntervalSeconds: 30, BackoffRate: 2, ExpireAfterMin: 120 }]);
    });
  });

  test('all problems are reported in one error', () => {
    expect(() => buildPipelineDefinition({ steps: [prep('bad name'), prep('bad name', { StoppingCondition: undefined })] })).toThrow(
      /Invalid pipeline definition:\n- step name 'bad name' must match[^\n]*\n- step name 'bad name' must match[^\n]*\n- duplicate step name 'bad name'[\s\S]*StoppingCondition.MaxRuntimeInSeconds is required/,
    );
  });
});
