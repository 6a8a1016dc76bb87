import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { JobPlacement } from '../bedrock-customization-workflow';

export interface DataQualityScheduleProps {
  /** The endpoint whose capture is analyzed, all variants together (it must exist when the schedule is created). */
  readonly endpointName: string;
  /** Model Monitor's analyzer image of the region (lib/config/model-monitor-images.json). */
  readonly analyzerImageUri: string;
  /** Reads the capture and writes the results (the capture monitor's job role serves). */
  readonly role: iam.IRole;
  /** `s3://.../` where each execution's statistics and violations go. */
  readonly outputUri: string;
  readonly instanceType: string;
  readonly placement: JobPlacement;
  /** Encrypts the job's volume and outputs. */
  readonly key: kms.IKey;
}

/**
 * An hourly SageMaker Model Monitor data quality schedule of one endpoint (Model Monitor reads an endpoint's
 * capture, not a variant's), for accounts that still
 * have Model Monitor (it no longer takes new customers; see the README). The job is network isolated in the
 * processing subnets and encrypted with the data key; without a baseline it records statistics of each
 * hour's capture. The platform's own capture monitor (CaptureMonitor) does not depend on it.
 */
export class DataQualitySchedule extends Construct {
  readonly jobDefinition: sagemaker.CfnDataQualityJobDefinition;
  readonly schedule: sagemaker.CfnMonitoringSchedule;

  constructor(scope: Construct, id: string, props: DataQualityScheduleProps) {
    super(scope, id);
    const problems: string[] = [];
    // Job definition and schedule names: letters, digits and hyphens, at most 63 characters.
    const name = `${props.endpointName}-data-quality`;
    if (!/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(name)) problems.push(`endpointName: '${props.endpointName}' gives the name '${name}'; allowed: at most 63 letters, digits and hyphens in all`);
    if (!Token.isUnresolved(props.outputUri) && !props.outputUri.startsWith('s3://')) problems.push(`outputUri: got '${props.outputUri}'; allowed: an s3:// URI`);
    if (problems.length) throw new Error(`Invalid DataQualitySchedule props:\n- ${problems.join('\n- ')}`);

    this.jobDefinition = new sagemaker.CfnDataQualityJobDefinition(this, 'JobDefinition', {
      jobDefinitionName: name,
      dataQualityAppSpecification: { imageUri: props.analyzerImageUri },
      dataQualityJobInput: {
        endpointInput: { endpointName: props.endpointName, localPath: '/opt/ml/processing/input/endpoint', s3InputMode: 'File', s3DataDistributionType: 'FullyReplicated' },
      },
      dataQualityJobOutputConfig: {
        kmsKeyId: props.key.keyArn,
        monitoringOutputs: [{ s3Output: { localPath: '/opt/ml/processing/output', s3Uri: props.outputUri, s3UploadMode: 'EndOfJob' } }],
      },
      jobResources: {
        clusterConfig: { instanceCount: 1, instanceType: props.instanceType, volumeSizeInGb: 30, volumeKmsKeyId: props.key.keyArn },
      },
      networkConfig: {
        enableNetworkIsolation: true,
        enableInterContainerTrafficEncryption: true,
        vpcConfig: { subnets: props.placement.subnetIds, securityGroupIds: props.placement.securityGroupIds },
      },
      roleArn: props.role.roleArn,
      stoppingCondition: { maxRuntimeInSeconds: 3600 },
    });
    this.schedule = new sagemaker.CfnMonitoringSchedule(this, 'Schedule', {
      monitoringScheduleName: name,
      monitoringScheduleConfig: {
        monitoringJobDefinitionName: name,
        monitoringType: 'DataQuality',
        scheduleConfig: { scheduleExpression: 'cron(0 * ? * * *)' },
      },
    });
    this.schedule.node.addDependency(this.jobDefinition);
  }
}
