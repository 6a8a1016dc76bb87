import { CfnOutput, Stack } from 'aws-cdk-lib';

/**
 * The names a user needs after a deploy, as stack outputs (`aws cloudformation describe-stacks --stack-name
 * <stack> --query "Stacks[0].Outputs"`); docs/runbook.md reads them by these keys, and a test checks that
 * every key it reads exists.
 */
export function addOutputs(stack: Stack, outputs: Record<string, { readonly value: string; readonly description: string }>): void {
  for (const [key, { value, description }] of Object.entries(outputs)) new CfnOutput(stack, key, { value, description });
}
