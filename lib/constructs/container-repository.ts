import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface ContainerRepositoryProps {
  /** Repository name, e.g. `fmft-dev/training`. */
  readonly repositoryName: string;
  /** Key that encrypts the images. */
  readonly encryptionKey: kms.IKey;
  /** Untagged images older than this many days are deleted. @default 14 */
  readonly untaggedImageExpirationDays?: number;
  /** Keep the repository when the stack is deleted. @default true */
  readonly retainOnDelete?: boolean;
}

/** ECR repository for custom training and serving images: KMS, scan on push, immutable tags. */
export class ContainerRepository extends Construct {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ContainerRepositoryProps) {
    super(scope, id);
    const days = props.untaggedImageExpirationDays ?? 14;
    const problems: string[] = [];
    if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(props.repositoryName) || props.repositoryName.length > 256) {
      problems.push(`repositoryName must be lower-case path segments separated by '/', got '${props.repositoryName}'`);
    }
    if (!Token.isUnresolved(days) && (!Number.isInteger(days) || days < 1)) problems.push(`untaggedImageExpirationDays must be a whole number >= 1, got ${days}`);
    if (problems.length) throw new Error(`Invalid ContainerRepository props:\n- ${problems.join('\n- ')}`);

    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName,
      encryption: ecr.RepositoryEncryption.KMS,
      encryptionKey: props.encryptionKey,
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      removalPolicy: props.retainOnDelete === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      emptyOnDelete: props.retainOnDelete === false,
      lifecycleRules: [{ description: 'Expire untagged images', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(days) }],
    });
  }
}
