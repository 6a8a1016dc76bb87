import { sagemakerPayload } from '../../lib/api/backends/sagemaker';
import { parseServedModels } from '../../lib/api/served-models';

const request = { prompt: 'p', maxNewTokens: 8, temperature: 0, topP: 1, stop: ['\n\n'] };

describe('inference API: serving containers', () => {
  test("stop sequences go by each container's own parameter name: TGI's stop, LMI's stop_sequences", () => {
    expect(sagemakerPayload(request, false, 'tgi')).toEqual({ inputs: 'p', parameters: { max_new_tokens: 8, do_sample: false, stop: ['\n\n'], details: true } });
    expect(sagemakerPayload(request, false, 'lmi')).toEqual({ inputs: 'p', parameters: { max_new_tokens: 8, do_sample: false, stop_sequences: ['\n\n'], details: true } });
  });

  test('a served model names a container only for a SageMaker backend, and only one the platform serves', () => {
    const base = { id: 'm', versions: ['v'], streaming: true };
    expect(() => parseServedModels(JSON.stringify([{ ...base, backend: 'bedrock', modelArn: 'a', container: 'lmi' }]))).toThrow(
      /\[0\]\.container: not allowed for backend bedrock/,
    );
    expect(() => parseServedModels(JSON.stringify([{ ...base, backend: 'sagemaker-endpoint', endpointName: 'e', container: 'vllm' }]))).toThrow(
      /\[0\]\.container: got "vllm"; allowed: lmi, tgi/,
    );
    expect(parseServedModels(JSON.stringify([{ ...base, backend: 'sagemaker-endpoint', endpointName: 'e', container: 'lmi' }]))[0].container).toBe('lmi');
  });
});
