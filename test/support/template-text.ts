/**
 * A CloudFormation template value as text, for assertions on names and ARNs: `Fn::Join` joined, a `Ref` as
 * `<LogicalId>` (pseudo parameters too: `<AWS::AccountId>`), a cross-stack read as `<Stack.OutputName>` or
 * `<import Name>`, anything else as its JSON.
 */
export function templateText(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as any;
  if (v?.['Fn::Join']) return v['Fn::Join'][1].map(templateText).join(v['Fn::Join'][0]);
  if (v?.Ref) return `<${v.Ref}>`;
  if (v?.['Fn::GetStackOutput']) return `<${v['Fn::GetStackOutput'].StackName}.${v['Fn::GetStackOutput'].OutputName}>`;
  if (v?.['Fn::ImportValue']) return `<import ${templateText(v['Fn::ImportValue'])}>`;
  return JSON.stringify(value);
}
