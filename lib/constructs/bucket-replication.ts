import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeNag, acknowledgeRuleInPacks, iam5ResourceFinding } from './compliance';
import { MlServiceRole } from './ml-service-role';

/**
 * S3 Replication Time Control: S3 replicates 99.99 % of objects within 15 minutes and reports the ones that
 * take longer (the RPO of the data). 15 is the only value the API accepts
 * (S3 user guide, "Replicating objects with S3 Replication Time Control":
 * https://docs.aws.amazon.com/AmazonS3/latest/dev/replication-walkthrough-5.html).
 */
export const REPLICATION_TIME_MINUTES = 15;

/** The id of the one replication rule of every replicated bucket (a dimension of its replication metrics). */
export const REPLICATION_RULE_ID = 'ToDisasterRecoveryRegion';

/** Where a bucket's replica lives. */
export interface ReplicaDestination {
  /** Name of the replica bucket (versioned, in `region`). */
  readonly bucketName: string;
  /** The DR region. */
  readonly region: string;
  /**
   * Alias (without `alias/`) of the replica's customer managed key in `region`; replicas are written
   * encrypted with it. Omit for a replica with SSE-S3 (the access logs, which S3 delivers only to SSE-S3).
   */
  readonly keyAlias?: string;
}

/** Either a replica, or the reason this bucket has none (cdk-nag's replication rule is acknowledged with it). */
export type ReplicationChoice = { readonly to: ReplicaDestination } | { readonly exemption: string };

/**
 * Replicates every object version written to `bucket` into the replica with Replication Time Control and
 * replication metrics, encrypting SSE-KMS objects with the replica's key. Delete markers are not
 * replicated: a deletion (by mistake or by an attacker) in the primary region leaves the replica's current
 * versions as they were. The role S3 assumes may read this bucket's versions for replication and write
 * replicas into that one bucket, decrypting with `sourceKey` and encrypting with the replica key only
 * through S3. Returns the role, or undefined for an exemption.
 */
export function configureReplication(scope: Construct, bucket: s3.Bucket, bucketName: string, sourceKey: kms.IKey | undefined, choice: ReplicationChoice): MlServiceRole | undefined {
  if ('exemption' in choice) {
    acknowledgeRuleInPacks(bucket, 'S3BucketReplicationEnabled', choice.exemption);
    return undefined;
  }
  const stack = Stack.of(scope);
  const to = choice.to;
  if (to.region === stack.region) throw new Error(`Invalid replication of ${bucketName}:\n- to.region: got "${to.region}"; a replica must be in another region than its bucket`);
  const sourceArn = stack.formatArn({ service: 's3', region: '', account: '', resource: bucketName });
  const destinationArn = stack.formatArn({ service: 's3', region: '', account: '', resource: to.bucketName });
  const role = new MlServiceRole(scope, 'ReplicationRole', {
    description: `S3 replicates ${bucketName} to ${to.bucketName}`,
    trust: { service: 's3.amazonaws.com', sourceArnPattern: sourceArn },
  });
  const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));
  add(['s3:GetReplicationConfiguration', 's3:ListBucket'], [sourceArn]);
  add(['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'], [`${sourceArn}/*`]);
  add(['s3:ReplicateObject', 's3:ReplicateTags'], [`${destinationArn}/*`]);
  // With S3 bucket keys the encryption context is the bucket's ARN, without them the object's.
  const context = (arn: string) => ({ 'kms:EncryptionContext:aws:s3:arn': [arn, `${arn}/*`] });
  if (sourceKey) {
    add(['kms:Decrypt'], [sourceKey.keyArn], { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` }, StringLike: context(sourceArn) });
  }
  const replicaKeys = stack.formatArn({ service: 'kms', region: to.region, resource: 'key', resourceName: '*' });
  if (to.keyAlias) {
    // The replica key is found by its alias: it lives in the DR stack, in another region.
    add(['kms:Encrypt', 'kms:GenerateDataKey'], [replicaKeys], {
      StringEquals: { 'kms:ViaService': `s3.${to.region}.amazonaws.com` },
      'ForAnyValue:StringEquals': { 'kms:ResourceAliases': `alias/${to.keyAlias}` },
      StringLike: context(destinationArn),
    });
  }
  acknowledgeNag(
    role,
    { id: iam5ResourceFinding(role, `${sourceArn}/*`), reason: 'Replication reads every object version of the bucket it replicates' },
    { id: iam5ResourceFinding(role, `${destinationArn}/*`), reason: 'Replication writes every object version into its one replica bucket' },
    ...(to.keyAlias
      ? [{ id: iam5ResourceFinding(role, replicaKeys), reason: 'The replica key lives in the DR region\u2019s stack; the kms:ResourceAliases condition admits that one key, only through S3 and only for the replica bucket' }]
      : []),
  );

  (bucket.node.defaultChild as s3.CfnBucket).replicationConfiguration = {
    role: role.role.roleArn,
    rules: [
      {
        id: REPLICATION_RULE_ID,
        priority: 1,
        status: 'Enabled',
        filter: { prefix: '' },
        deleteMarkerReplication: { status: 'Disabled' },
        sourceSelectionCriteria: sourceKey ? { sseKmsEncryptedObjects: { status: 'Enabled' } } : undefined,
        destination: {
          bucket: destinationArn,
          encryptionConfiguration: to.keyAlias ? { replicaKmsKeyId: stack.formatArn({ service: 'kms', region: to.region, resource: 'alias', resourceName: to.keyAlias }) } : undefined,
          replicationTime: { status: 'Enabled', time: { minutes: REPLICATION_TIME_MINUTES } },
          metrics: { status: 'Enabled', eventThreshold: { minutes: REPLICATION_TIME_MINUTES } },
        },
      },
    ],
  };
  // S3 checks the role's permissions when the configuration is put: the policy must exist first.
  if (role.policy) bucket.node.addDependency(role.policy);
  return role;
}
