import { parseCommand } from '../../lib/operations/cli';

describe('endpoint CLI arguments', () => {
  test('shift with repeated alarms', () => {
    expect(parseCommand(['shift', '--endpoint', 'fmft-prod-llm', '--from', 'current', '--to', 'candidate', '--steps', '5', '--interval', '300', '--alarm', 'a1', '--alarm', 'a2'])).toEqual({
      name: 'shift',
      endpoint: 'fmft-prod-llm',
      from: 'current',
      to: 'candidate',
      steps: 5,
      interval: 300,
      alarms: ['a1', 'a2'],
    });
  });

  test('rollback and ab with the default alpha', () => {
    expect(parseCommand(['rollback', '--endpoint', 'e', '--variant', 'current'])).toEqual({ name: 'rollback', endpoint: 'e', variant: 'current' });
    expect(parseCommand(['ab', '--endpoint', 'e', '--a', 'current', '--b', 'candidate', '--minutes', '120'])).toEqual(
      expect.objectContaining({ name: 'ab', minutes: 120, alpha: 0.05 }),
    );
  });

  test.each([
    [['deploy'], /command: got "deploy"; allowed: status, shift, promote, rollback, ab/],
    [['rollback', '--endpoint', 'e'], /rollback: --variant is required/],
    [['shift', '--endpoint', 'e', '--from', 'a', '--to', 'b', '--steps', 'ten', '--interval', '1'], /--steps: got "ten"; allowed: a whole number from 1 to 100/],
    [['promote', '--endpoint', 'e', '--winner', 'b'], /promote: unknown option "--winner"; allowed: --endpoint, --variant/],
    [['ab', '--endpoint', 'e', '--a', 'x', '--b', 'y', '--minutes', '1'], /--minutes: got "1"; allowed: a whole number of minutes from 2 to 20160/],
    [['status', '--endpoint'], /--endpoint: missing value/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
