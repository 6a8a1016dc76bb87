/** EventBridge Scheduler expressions: `cron(<6 fields>)` or `rate(<n> <unit>)` (Scheduler user guide, "Schedule types"). */
const CRON = /^cron\((\S+ ){5}\S+\)$/;
const RATE = /^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$/;

export const SCHEDULE_EXPRESSION_ALLOWED = 'cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>), e.g. cron(0 3 ? * MON *), or rate(<n> minutes|hours|days), e.g. rate(7 days)';

/** The problem with `expression`, or undefined when Scheduler accepts its shape. */
export function scheduleExpressionProblem(expression: string): string | undefined {
  return CRON.test(expression) || RATE.test(expression) ? undefined : `allowed: ${SCHEDULE_EXPRESSION_ALLOWED}`;
}
