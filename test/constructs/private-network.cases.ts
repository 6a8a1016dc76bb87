import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IConstruct } from 'constructs';
import { PrivateNetwork } from '../../lib/constructs/private-network';
import { NetworkConfig } from '../../lib/config/environment-config';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { testStack } from '../support/app';

const DEV = ENVIRONMENTS.dev.network;
const WORKLOAD_TIERS = ['training', 'processing', 'inference'] as const;
const ISOLATED_TIERS = [...WORKLOAD_TIERS, 'privatelink'] as const;
const ENDPOINT_SERVICE: Record<string, string> = {
  'sagemaker-api': 'com.amazonaws.us-east-1.sagemaker.api',
  'sagemaker-runtime': 'com.amazonaws.us-east-1.sagemaker.runtime',
  'ecr-api': 'com.amazonaws.us-east-1.ecr.api',
  'ecr-docker': 'com.amazonaws.us-east-1.ecr.dkr',
  logs: 'com.amazonaws.us-east-1.logs',
  monitoring: 'com.amazonaws.us-east-1.monitoring',
  sts: 'com.amazonaws.us-east-1.sts',
  kms: 'com.amazonaws.us-east-1.kms',
  bedrock: 'com.amazonaws.us-east-1.bedrock',
  'bedrock-runtime': 'com.amazonaws.us-east-1.bedrock-runtime',
  sns: 'com.amazonaws.us-east-1.sns',
  sqs: 'com.amazonaws.us-east-1.sqs',
  states: 'com.amazonaws.us-east-1.states',
  cloudformation: 'com.amazonaws.us-east-1.cloudformation',
};

const logicalId = (stack: Stack, c: IConstruct) => stack.getLogicalId(c.node.defaultChild as any);
const groupId = (stack: Stack, c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(stack, c), 'GroupId'] });

function build(config: NetworkConfig) {
  const stack = testStack();
  const key = new kms.Key(stack, 'FlowLogKey');
  const network = new PrivateNetwork(stack, 'Network', { config, flowLogKey: key });
  return { stack, key, network, template: Template.fromStack(stack) };
}

function subnetsOfTier(template: Template, tier: string) {
  return Object.values(
    template.findResources('AWS::EC2::Subnet', {
      Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-name', Value: tier }]) },
    }),
  ).map((r) => r.Properties);
}

describe('PrivateNetwork without NAT (dev)', () => {
  const { stack, key, network, template } = build(DEV);

  test('VPC with the configured CIDR', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: DEV.vpcCidr });
  });

  test('no NAT gateway, internet gateway, public subnet or default route', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::EgressOnlyInternetGateway', 0);
    template.resourceCountIs('AWS::EC2::EIP', 0);
    template.resourceCountIs('AWS::EC2::Route', 0);
    expect(subnetsOfTier(template, 'public')).toEqual([]);
    expect(Object.keys(template.findResources('AWS::EC2::Subnet', { Properties: { MapPublicIpOnLaunch: true } }))).toEqual([]);
  });

  test('one isolated subnet per tier and AZ, with the configured prefix length, in the configured AZs', () => {
    template.resourceCountIs('AWS::EC2::Subnet', ISOLATED_TIERS.length * DEV.availabilityZones.length);
    for (const tier of ISOLATED_TIERS) {
      const subnets = subnetsOfTier(template, tier);
      expect(subnets.map((s) => s.AvailabilityZone).sort()).toEqual([...DEV.availabilityZones].sort());
      for (const s of subnets) {
        expect(s.CidrBlock).toMatch(new RegExp(`^10\\.40\\.\\d+\\.\\d+/${DEV.subnetPrefixLengths[tier]}$`));
        expect(s.MapPublicIpOnLaunch).toBe(false);
        expect(s.Tags).toContainEqual({ Key: 'aws-cdk:subnet-type', Value: 'Isolated' });
      }
    }
  });

  test('tiers are laid out in SUBNET_TIERS order without gaps (dev address plan)', () => {
    const cidrs = (tier: string) => subnetsOfTier(template, tier).map((s) => s.CidrBlock).sort();
    expect(cidrs('training')).toEqual(['10.40.0.0/20', '10.40.16.0/20']);
    expect(cidrs('processing')).toEqual(['10.40.32.0/22', '10.40.36.0/22']);
    expect(cidrs('inference')).toEqual(['10.40.40.0/22', '10.40.44.0/22']);
    expect(cidrs('privatelink')).toEqual(['10.40.48.0/24', '10.40.49.0/24']);
  });

  test('subnetsFor returns the two subnets of one tier', () => {
    const training = network.subnetsFor('training');
    expect(training.subnets).toHaveLength(2);
    expect(training.subnetIds.map((id) => stack.resolve(id))).toEqual(
      network.vpc.isolatedSubnets.filter((s) => s.node.path.includes('/trainingSubnet')).map((s) => stack.resolve(s.subnetId)),
    );
  });

  test('S3 gateway endpoint on every route table', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      RouteTableIds: Match.anyValue(),
    });
    const gateway = Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Gateway' } }));
    expect(gateway).toHaveLength(1);
    expect(gateway[0].Properties.RouteTableIds).toHaveLength(Object.keys(template.findResources('AWS::EC2::RouteTable')).length);
  });

  test('exactly the configured interface endpoints, with private DNS, the endpoint SG and privatelink subnets', () => {
    const endpoints = Object.values(
      template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }),
    ).map((r) => r.Properties);
    expect(endpoints.map((e) => e.ServiceName).sort()).toEqual(DEV.interfaceEndpoints.map((n) => ENDPOINT_SERVICE[n]).sort());
    const privatelink = network.subnetsFor('privatelink').subnets.map((s) => ({ Ref: logicalId(stack, s) }));
    for (const e of endpoints) {
      expect(e.PrivateDnsEnabled).toBe(true);
      expect(e.SecurityGroupIds).toEqual([groupId(stack, network.endpointSecurityGroup)]);
      expect(e.SubnetIds).toEqual(privatelink);
    }
  });

  test('training SG: all traffic from and to itself, HTTPS out, nothing else', () => {
    const training = groupId(stack, network.securityGroups.training);
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: training } }));
    expect(ingress.map((r) => r.Properties)).toEqual([
      { GroupId: training, SourceSecurityGroupId: training, IpProtocol: '-1', Description: expect.any(String) },
    ]);
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: training,
      DestinationSecurityGroupId: training,
      IpProtocol: '-1',
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^SageMaker training'),
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() }],
    });
  });

  test('processing, inference and lambda SGs: no inbound rule, HTTPS out only', () => {
    for (const kind of ['processing', 'inference', 'lambda'] as const) {
      const sg = network.securityGroups[kind];
      const id = logicalId(stack, sg);
      const props = template.findResources('AWS::EC2::SecurityGroup')[id].Properties;
      expect(props.SecurityGroupIngress).toBeUndefined();
      expect(props.SecurityGroupEgress).toEqual([
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: expect.any(String) },
      ]);
      expect(template.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: groupId(stack, sg) } })).toEqual({});
    }
  });

  test('endpoint SG: HTTPS in from each workload SG only, no outbound', () => {
    const endpointSg = groupId(stack, network.endpointSecurityGroup);
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: endpointSg } })).map(
      (r) => r.Properties,
    );
    expect(ingress).toHaveLength(4);
    for (const rule of ingress) {
      expect(rule).toMatchObject({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
      expect(rule.CidrIp).toBeUndefined();
    }
    expect(ingress.map((r) => r.SourceSecurityGroupId)).toEqual(
      expect.arrayContaining(Object.values(network.securityGroups).map((sg) => groupId(stack, sg))),
    );
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Interface endpoints'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })],
    });
  });

  test('no security group accepts traffic from 0.0.0.0/0 or ::/0 anywhere', () => {
    const inline = Object.values(template.findResources('AWS::EC2::SecurityGroup')).flatMap((r) => r.Properties.SecurityGroupIngress ?? []);
    const standalone = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    const open = [...inline, ...standalone].filter((r: any) => r.CidrIp === '0.0.0.0/0' || r.CidrIpv6 === '::/0');
    expect(open).toEqual([]);
  });

  test('default security group is stripped of its rules', () => {
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });

  test('flow log of ALL traffic to a KMS-encrypted log group with the configured retention', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      ResourceId: { Ref: logicalId(stack, network.vpc) },
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: logicalId(stack, network.flowLogGroup) },
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { KmsKeyId: { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] }, RetentionInDays: DEV.flowLogRetentionDays },
      DeletionPolicy: 'Retain',
    });
  });
});

describe('PrivateNetwork with NAT', () => {
  const config: NetworkConfig = { ...DEV, natGateways: 1, interfaceEndpoints: ['sts', 'kms'] };
  const { template } = build(config);

  test('one NAT gateway in a public subnet behind an internet gateway', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
    const publicSubnets = subnetsOfTier(template, 'public');
    expect(publicSubnets).toHaveLength(config.availabilityZones.length);
    for (const s of publicSubnets) expect(s.CidrBlock).toMatch(new RegExp(`/${config.subnetPrefixLengths.public}$`));
  });

  test('workload tiers route 0.0.0.0/0 to the NAT; privatelink stays isolated', () => {
    const natRoutes = Object.values(template.findResources('AWS::EC2::Route', { Properties: { NatGatewayId: Match.anyValue() } }));
    expect(natRoutes).toHaveLength(WORKLOAD_TIERS.length * config.availabilityZones.length);
    for (const tier of WORKLOAD_TIERS) {
      for (const s of subnetsOfTier(template, tier)) expect(s.Tags).toContainEqual({ Key: 'aws-cdk:subnet-type', Value: 'Private' });
    }
    for (const s of subnetsOfTier(template, 'privatelink')) {
      expect(s.Tags).toContainEqual({ Key: 'aws-cdk:subnet-type', Value: 'Isolated' });
    }
  });

  test('only the configured interface endpoints', () => {
    const names = Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } })).map(
      (r) => r.Properties.ServiceName,
    );
    expect(names.sort()).toEqual([ENDPOINT_SERVICE.kms, ENDPOINT_SERVICE.sts]);
  });
});

test('retainOnDelete false deletes the flow log group with the stack', () => {
  const stack = testStack();
  new PrivateNetwork(stack, 'Network', { config: { ...DEV, interfaceEndpoints: [] }, flowLogKey: new kms.Key(stack, 'Key'), retainOnDelete: false });
  const template = Template.fromStack(stack);
  template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
});
