import { TASK_TEMPLATES, TaskOperationId } from './contract';
import { ApiProblem, truncate } from './problems';

/**
 * The task routes send the user turn the model was fine-tuned on (training/contracts/task-prompts.json, kept
 * equal to training.data.formats.to_conversation by training/tests/test_task_prompts.py) and read the answer
 * the task allows.
 */

/**
 * The template of `route` with each `{field}` replaced by the request's field. One pass over the template, so
 * braces inside the request's text are never read as placeholders.
 */
export function taskPrompt(route: TaskOperationId, fields: Readonly<Record<string, unknown>>): string {
  return TASK_TEMPLATES[route].replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = fields[name];
    if (typeof value !== 'string') throw new Error(`task-prompts.json: template of ${route} names {${name}}, which the request does not have as a string`);
    return value;
  });
}

/**
 * The token budget of a classify answer: enough for the longest label. A token is rarely shorter than two
 * characters of a label (common English words are one token of ~4 characters; rare words, digits and
 * punctuation split into pieces of 2-3), so half the characters bounds its tokens; 8 more cover a leading
 * space, trailing punctuation and the end-of-sequence token. The longest allowed label (200 characters) gives
 * 108, far below what a free-form route may ask.
 */
export function classifyMaxNewTokens(labels: readonly string[]): number {
  const longest = labels.reduce((n, label) => Math.max(n, [...label].length), 0);
  return Math.ceil(longest / 2) + 8;
}

// Whitespace and punctuation (Unicode P*) at the end of an answer ("Positive." "positive!\n").
const TRAILING = /[\s\p{P}]+$/u;
const WORD_CHARACTER = /[\p{L}\p{N}]/u;

function normalize(text: string): string {
  return text.trim().toLowerCase().replace(TRAILING, '');
}

/**
 * The label `answer` names, or undefined: the answer trimmed, compared case-insensitively without trailing
 * punctuation; first an exact match (a case-exact one wins when two labels differ only in case), else the
 * longest label the answer starts with, followed by a non-word character ("negative, because ..." is
 * `negative`; "nothing" is not `no`).
 */
export function parseLabel(answer: string, labels: readonly string[]): string | undefined {
  const trimmed = answer.trim();
  const exact = labels.find((label) => label === trimmed);
  if (exact !== undefined) return exact;
  const normalized = normalize(answer);
  const same = labels.find((label) => normalize(label) === normalized);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestLength = 0;
  for (const label of labels) {
    const key = normalize(label);
    if (!key || key.length <= bestLength || !normalized.startsWith(key)) continue;
    if (WORD_CHARACTER.test(normalized.charAt(key.length))) continue;
    best = label;
    bestLength = key.length;
  }
  return best;
}

const QUOTED_ANSWER_CHARS = 100;
const LISTED_LABELS = 20;

/** The 502 for an answer that is none of the labels: the answer quoted (truncated) and the labels listed. */
export function unparseableAnswer(answer: string, labels: readonly string[]): ApiProblem {
  const listed = labels.slice(0, LISTED_LABELS).map((l) => JSON.stringify(truncate(l, 40))).join(', ');
  const more = labels.length > LISTED_LABELS ? ` and ${labels.length - LISTED_LABELS} more` : '';
  return new ApiProblem(
    'unparseable-answer',
    `The model answered ${JSON.stringify(truncate(answer.trim(), QUOTED_ANSWER_CHARS))}, which is none of the labels: ${listed}${more}.`,
  );
}
