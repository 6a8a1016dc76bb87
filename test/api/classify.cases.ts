import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { classifyMaxNewTokens, parseLabel } from '../../lib/api/tasks';
import { blob, invoke, post, testApi, useSdkMocks } from './support';

// How a classify answer is read: trimmed, case-insensitive, trailing punctuation ignored; an exact label,
// else the longest label the answer starts with (at a word boundary); else 502 unparseable-answer.

describe('inference API classify answers', () => {
  const LABELS = ['positive', 'negative', 'neutral'];

  test.each([
    ['exact', 'negative', LABELS, 'negative'],
    ['surrounding whitespace', '  neutral\n', LABELS, 'neutral'],
    ['case', 'NEGATIVE', LABELS, 'negative'],
    ['label case kept', 'billing', ['Billing', 'Shipping'], 'Billing'],
    ['trailing punctuation', 'Positive.', LABELS, 'positive'],
    ['several trailing marks', 'positive!!!  ', LABELS, 'positive'],
    ['prefix', 'negative, because the parcel never came', LABELS, 'negative'],
    ['prefix on the next line', 'neutral\nThe text states facts.', LABELS, 'neutral'],
    ['longest prefix', 'very negative indeed', ['very', 'very negative', 'negative'], 'very negative'],
    ['longest prefix, shorter label first', 'billing dispute: refund', ['billing', 'billing dispute'], 'billing dispute'],
    ['a case-exact label wins over one differing in case', 'Yes', ['yes', 'Yes'], 'Yes'],
    ['labels with inner punctuation', 'n/a', ['n/a', 'a/b'], 'n/a'],
  ])('%s: %j → %j', (_, answer, labels, label) => {
    expect(parseLabel(answer, labels)).toBe(label);
  });

  test.each([
    ['none', 'I cannot tell', LABELS],
    ['a prefix without a word boundary', 'nothing', ['no', 'yes']],
    ['a label inside, not at the start', 'It is negative', LABELS],
    ['empty', '   ', LABELS],
  ])('%s: %j → no label', (_, answer, labels) => {
    expect(parseLabel(answer, labels)).toBeUndefined();
  });

  test('the token budget fits the longest label: ceil(characters / 2) + 8', () => {
    expect(classifyMaxNewTokens(['yes', 'no'])).toBe(10);
    expect(classifyMaxNewTokens(['a', 'x'.repeat(200)])).toBe(108);
    expect(classifyMaxNewTokens(['🙂🙂🙂', 'ok'])).toBe(10); // characters, not UTF-16 units
  });

  describe('on the route', () => {
    const sdk = useSdkMocks();

    test('an answer that is none of the labels → 502 unparseable-answer quoting the answer and listing the labels', async () => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: ' I am not sure what you mean.', details: { finish_reason: 'eos_token' } }]) });
      const { api, errors } = testApi();
      const res = await invoke(api, post('classify', 'serving', { text: 'Hmm', labels: LABELS }));
      expect(res.statusCode).toBe(502);
      expect(res.json).toEqual(expect.objectContaining({ type: 'urn:fmft:problem:unparseable-answer', title: "The model's answer is not one the task allows", retryable: false }));
      expect(res.json.detail).toBe('The model answered "I am not sure what you mean.", which is none of the labels: "positive", "negative", "neutral".');
      expect(errors).toEqual([expect.objectContaining({ problem: 'unparseable-answer' })]);
    });

    test('a long answer is truncated in the detail, and more than 20 labels are counted, not listed', async () => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: 'z'.repeat(500) }]) });
      const labels = Array.from({ length: 25 }, (_, i) => `label-${i}`);
      const res = await invoke(testApi().api, post('classify', 'serving', { text: 'Hmm', labels }));
      expect(res.json.detail).toBe(`The model answered "${'z'.repeat(99)}…", which is none of the labels: ${labels.slice(0, 20).map((l) => `"${l}"`).join(', ')} and 5 more.`);
    });
  });
});
