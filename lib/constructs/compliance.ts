import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** A cdk-nag finding to acknowledge: `Pack::Rule` or `Pack::Rule[finding]`, exactly as the report prints it. */
export interface NagAcknowledgement {
  readonly id: string;
  /** Evidence a security reviewer would accept, not a shrug. */
  readonly reason: string;
}

/**
 * Acknowledges cdk-nag findings on one construct. The `Pack::Rule` form is required because only that form
 * is listed in the validation report, which is how the tests prove each acknowledgement still matches.
 */
export function acknowledgeNag(scope: IConstruct, ...acks: NagAcknowledgement[]): void {
  for (const ack of acks) {
    if (!/^[A-Za-z0-9.]+::[A-Za-z0-9.]+-[A-Za-z0-9]+(\[.+\])?$/.test(ack.id)) {
      throw new Error(`acknowledgement id must look like 'AwsSolutions::AwsSolutions-S1', got '${ack.id}'`);
    }
    if (ack.reason.trim().length < 20) {
      throw new Error(`acknowledgement ${ack.id} on ${scope.node.path} needs a reason of at least 20 characters`);
    }
    Validations.of(scope).acknowledge({ id: ack.id, reason: ack.reason });
  }
}

/** A checkov check to skip on one CloudFormation resource, with the evidence. */
export interface CheckovSkip {
  /** Check id, e.g. CKV_AWS_18. */
  readonly id: string;
  readonly comment: string;
}

/**
 * Records checkov skips in the resource's `Metadata.checkov.skip`, where checkov reads them, so every skip is
 * documented next to the resource it applies to.
 */
export function skipCheckov(resource: IConstruct, ...skips: CheckovSkip[]): void {
  const cfn = resource instanceof CfnResource ? resource : resource.node.defaultChild;
  if (!(cfn instanceof CfnResource)) throw new Error(`${resource.node.path} has no CloudFormation resource to annotate`);
  for (const s of skips) {
    if (!/^CKV2?_AWS_\d+$/.test(s.id)) throw new Error(`checkov id must look like CKV_AWS_18, got '${s.id}'`);
    if (s.comment.trim().length < 20) throw new Error(`checkov skip ${s.id} on ${resource.node.path} needs a comment of at least 20 characters`);
  }
  const existing = (cfn.getMetadata('checkov') as { skip?: CheckovSkip[] } | undefined)?.skip ?? [];
  cfn.addMetadata('checkov', { skip: [...existing, ...skips.map((s) => ({ id: s.id, comment: s.comment }))] });
}

/**
 * The id of the AwsSolutions-IAM5 finding for a wildcard `resource`, rendered the way cdk-nag prints it
 * (`Ref`s as `<AWS::AccountId>`, joins flattened), so an acknowledgement matches that one resource only.
 */
export function iam5ResourceFinding(scope: IConstruct, resource: string): string {
  return `AwsSolutions::AwsSolutions-IAM5[Resource::${renderLikeNag(Stack.of(scope).resolve(resource))}]`;
}

function renderLikeNag(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
    if (Array.isArray(o['Fn::Join'])) {
      const [separator, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(renderLikeNag).join(separator);
    }
    if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  }
  return JSON.stringify(value);
}

/** The packs that share rule names such as `IAMNoInlinePolicy` (AwsSolutions and Serverless do not). */
export const REGULATORY_PACKS = ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'] as const;

/** Acknowledges one rule, e.g. `S3BucketLoggingEnabled`, in each of the given packs with the same evidence. */
export function acknowledgeRuleInPacks(
  scope: IConstruct,
  rule: string,
  reason: string,
  packs: readonly string[] = REGULATORY_PACKS,
): void {
  acknowledgeNag(scope, ...packs.map((pack) => ({ id: `${pack}::${pack}-${rule}`, reason })));
}

