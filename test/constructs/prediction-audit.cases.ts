import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CfnParameter, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { addCompliancePacks } from '../../lib/compliance-packs';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { AccessLogBucket } from '../../lib/constructs/access-log-bucket';
import { MlBucket } from '../../lib/constructs/ml-bucket';
import { MlServiceRole } from '../../lib/constructs/ml-service-role';
import {
  PredictionAudit,
  PredictionAuditProps,
  PREDICTION_AUDIT_TABLES,
} from '../../lib/constructs/monitoring/prediction-audit';
import { PlatformKey } from '../../lib/constructs/platform-key';
import { testApp, testStack, ValidationReport } from '../support/app';

const storage = ENVIRONMENTS.dev.storage;
const NAG_PACKS = ['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless'];

/** The audit construct with the inputs the storage stack gives it: two keyed buckets and the access-log bucket. */
function fixture(props: Partial<PredictionAuditProps> = {}, stack: Stack = testStack()) {
  const key = (id: string, alias: string) =>
    new PlatformKey(stack, id, { aliasName: alias, description: alias, rotationPeriodDays: 365, deletionWindowDays: 7 }).key;
  const dataKey = key('DataKey', 'fmft/dev/data');
  const logsKey = key('InvocationLogsKey', 'fmft/dev/invocation-logs');
  const accessLogs = new AccessLogBucket(stack, 'AccessLogs', { expirationDays: 30, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } }).bucket;
  const mlBucket = (id: string, bucketName: string, encryptionKey: typeof dataKey) =>
    new MlBucket(stack, id, {
      bucketName,
      encryptionKey,
      accessLogsBucket: accessLogs,
      noncurrentVersionExpirationDays: storage.noncurrentVersionExpirationDays,
      abortIncompleteUploadDays: storage.abortIncompleteUploadDays,
      replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' },
    });
  const artifacts = mlBucket('ModelArtifacts', 'fmft-dev-model-artifacts', dataKey);
  const invocationLogs = mlBucket('InvocationLogs', 'fmft-dev-invocation-logs', logsKey);
  const make = (extra: Partial<PredictionAuditProps> = {}) =>
    new PredictionAudit(stack, 'PredictionAudit', {
      databaseName: 'fmft_dev_predictions',
      workGroupName: 'fmft-dev-predictions',
      dataCaptureBucket: artifacts,
      invocationLogsBucket: invocationLogs,
      encryptionKey: logsKey,
      accessLogsBucket: accessLogs,
      ...props,
      ...extra,
    });
  return { stack, dataKey, logsKey, accessLogs, artifacts, invocationLogs, make };
}

const logicalId = (stack: Stack, c: IConstruct) => stack.getLogicalId((c.node.defaultChild ?? c) as any);
const ref = (stack: Stack, c: IConstruct) => ({ Ref: logicalId(stack, c) });
const getAtt = (stack: Stack, c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(stack, c), 'Arn'] });

/**
 * Every (action, resource, condition) a policy allows, one line each, sorted and without repeats, so an
 * assertion is exact whatever way IAM's statement minimization merged or repeated the statements.
 */
function grantsOf(statements: any[]): string[] {
  const lines = statements
    .flatMap((s) => {
      expect(s.Effect).toBe('Allow');
      return [s.Action].flat().flatMap((action: string) =>
        [s.Resource].flat().map((resource: unknown) => `${action} ${JSON.stringify(resource)}${s.Condition ? ` if ${JSON.stringify(s.Condition)}` : ''}`),
      );
    });
  return [...new Set(lines)].sort();
}

describe('PredictionAudit', () => {
  describe('tables, workgroup and results bucket', () => {
    const f = fixture();
    const audit = f.make();
    const template = Template.fromStack(f.stack);
    const accountId = { Ref: 'AWS::AccountId' };

    test('a Glue database of the given name in this account\'s catalog', () => {
      template.resourceCountIs('AWS::Glue::Database', 1);
      template.hasResourceProperties('AWS::Glue::Database', {
        CatalogId: accountId,
        DatabaseInput: Match.objectLike({ Name: 'fmft_dev_predictions' }),
      });
      expect(audit.databaseName).toBe('fmft_dev_predictions');
      expect([audit.dataCaptureTableName, audit.bedrockInvocationsTableName]).toEqual(['data_capture', 'bedrock_invocations']);
      expect(audit.workGroupName).toBe('fmft-dev-predictions');
    });

    test('data_capture: JSON SerDe over the capture prefix, injected endpoint and variant, hourly dates to NOW', () => {
      const captureRoot = ['s3://', ref(f.stack, f.artifacts.bucket), '/data-capture/'];
      template.hasResource('AWS::Glue::Table', {
        DependsOn: [logicalId(f.stack, audit.database)],
        Properties: {
          CatalogId: accountId,
          DatabaseName: 'fmft_dev_predictions',
          TableInput: {
            Name: PREDICTION_AUDIT_TABLES.dataCapture,
            Description: Match.anyValue(),
            TableType: 'EXTERNAL_TABLE',
            Parameters: {
              EXTERNAL: 'TRUE',
              classification: 'json',
              'projection.enabled': 'true',
              'projection.endpoint_name.type': 'injected',
              'projection.variant_name.type': 'injected',
              'projection.datehour.type': 'date',
              'projection.datehour.format': 'yyyy/MM/dd/HH',
              'projection.datehour.range': 'NOW-365DAYS,NOW',
              'projection.datehour.interval': '1',
              'projection.datehour.interval.unit': 'HOURS',
              'storage.location.template': {
                'Fn::Join': ['', [...captureRoot.slice(0, 2), '/data-capture/${endpoint_name}/${variant_name}/${datehour}/']],
              },
            },
            PartitionKeys: [
              Match.objectLike({ Name: 'endpoint_name', Type: 'string' }),
              Match.objectLike({ Name: 'variant_name', Type: 'string' }),
              Match.objectLike({ Name: 'datehour', Type: 'string' }),
            ],
            StorageDescriptor: {
              Location: { 'Fn::Join': ['', captureRoot] },
              InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
              OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
              Compressed: false,
              SerdeInfo: {
                SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
                Parameters: { 'case.insensitive': 'TRUE', 'ignore.malformed.json': 'FALSE' },
              },
              Columns: [
                Match.objectLike({
                  Name: 'capturedata',
                  Type:
                    'struct<endpointinput:struct<observedcontenttype:string,mode:string,data:string,encoding:string>,' +
                    'endpointoutput:struct<observedcontenttype:string,mode:string,data:string,encoding:string>>',
                }),
                Match.objectLike({ Name: 'eventmetadata', Type: 'struct<eventid:string,inferenceid:string,inferencetime:string>' }),
                { Name: 'eventversion', Type: 'string' },
              ],
            },
          },
        },
      });
    });

    test('bedrock_invocations: gzip JSON under AWSLogs/<account>/BedrockModelInvocationLogs/<region>/, hourly', () => {
      const logsRoot = ['s3://', ref(f.stack, f.invocationLogs.bucket), '/bedrock-invocations/AWSLogs/', accountId, '/BedrockModelInvocationLogs/us-east-1/'];
      template.hasResource('AWS::Glue::Table', {
        DependsOn: [logicalId(f.stack, audit.database)],
        Properties: {
          CatalogId: accountId,
          DatabaseName: 'fmft_dev_predictions',
          TableInput: Match.objectLike({
            Name: PREDICTION_AUDIT_TABLES.bedrockInvocations,
            TableType: 'EXTERNAL_TABLE',
            Parameters: {
              EXTERNAL: 'TRUE',
              classification: 'json',
              compressionType: 'gzip',
              'projection.enabled': 'true',
              'projection.datehour.type': 'date',
              'projection.datehour.format': 'yyyy/MM/dd/HH',
              'projection.datehour.range': 'NOW-365DAYS,NOW',
              'projection.datehour.interval': '1',
              'projection.datehour.interval.unit': 'HOURS',
              'storage.location.template': { 'Fn::Join': ['', [...logsRoot.slice(0, 4), '/BedrockModelInvocationLogs/us-east-1/${datehour}/']] },
            },
            PartitionKeys: [Match.objectLike({ Name: 'datehour', Type: 'string' })],
            StorageDescriptor: Match.objectLike({
              Location: { 'Fn::Join': ['', logsRoot] },
              Compressed: true,
              SerdeInfo: {
                SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
                Parameters: { 'case.insensitive': 'TRUE', 'ignore.malformed.json': 'TRUE' },
              },
            }),
          }),
        },
      });
    });

    test('bedrock_invocations keeps request and response bodies as JSON text and has every log field', () => {
      const tables = Object.values(template.findResources('AWS::Glue::Table')) as any[];
      const bedrock = tables.find((t) => t.Properties.TableInput.Name === PREDICTION_AUDIT_TABLES.bedrockInvocations);
      const columns = Object.fromEntries(bedrock.Properties.TableInput.StorageDescriptor.Columns.map((c: any) => [c.Name, c.Type]));
      expect(columns).toEqual({
        schematype: 'string',
        schemaversion: 'string',
        timestamp: 'string',
        accountid: 'string',
        identity: 'struct<arn:string>',
        region: 'string',
        requestid: 'string',
        operation: 'string',
        modelid: 'string',
        errorcode: 'string',
        input: 'struct<inputcontenttype:string,inputbodyjson:string,inputbodys3path:string,inputtokencount:bigint>',
        output: 'struct<outputcontenttype:string,outputbodyjson:string,outputbodys3path:string,outputtokencount:bigint>',
      });
      // Hive folds names to lower case; the SerDe matches the camelCase JSON keys case-insensitively.
      const names = tables.flatMap((t) => [...t.Properties.TableInput.StorageDescriptor.Columns, ...t.Properties.TableInput.PartitionKeys]);
      for (const c of names) expect(`${c.Name} ${c.Type}`).toBe(`${c.Name} ${c.Type}`.toLowerCase());
    });

    test('workgroup: enforced, SSE-KMS results in its own bucket, cutoff, metrics, automatic engine', () => {
      template.hasResourceProperties('AWS::Athena::WorkGroup', {
        Name: 'fmft-dev-predictions',
        State: 'ENABLED',
        RecursiveDeleteOption: true,
        WorkGroupConfiguration: {
          EnforceWorkGroupConfiguration: true,
          PublishCloudWatchMetricsEnabled: true,
          BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
          RequesterPaysEnabled: false,
          EngineVersion: { SelectedEngineVersion: 'AUTO' },
          ResultConfiguration: {
            OutputLocation: { 'Fn::Join': ['', ['s3://', ref(f.stack, audit.resultsBucket.bucket), '/results/']] },
            EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: getAtt(f.stack, f.logsKey) },
            ExpectedBucketOwner: accountId,
          },
        },
      });
    });

    test('results bucket: the given key, access logs, results expire after 30 days', () => {
      const bucket = template.findResources('AWS::S3::Bucket')[logicalId(f.stack, audit.resultsBucket.bucket)];
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({
        SSEAlgorithm: 'aws:kms',
        KMSMasterKeyID: getAtt(f.stack, f.logsKey),
      });
      expect(bucket.Properties.LoggingConfiguration.DestinationBucketName).toEqual(ref(f.stack, f.accessLogs));
      expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(
        expect.arrayContaining([{ Id: 'Expire-results', Status: 'Enabled', Prefix: 'results/', ExpirationInDays: 30 }]),
      );
      expect(bucket.DeletionPolicy).toBe('Retain');
    });

    test('exampleQuery finds one capture by inference id in one hour of one variant', () => {
      expect(audit.exampleQuery).toBe(
        [
          'SELECT eventmetadata.inferencetime AS inference_time,',
          '       eventmetadata.eventid AS event_id,',
          '       capturedata.endpointinput.data AS request,',
          '       capturedata.endpointinput.encoding AS request_encoding,',
          '       capturedata.endpointoutput.data AS response,',
          '       capturedata.endpointoutput.encoding AS response_encoding,',
          '       "$path" AS capture_file',
          'FROM "fmft_dev_predictions"."data_capture"',
          "WHERE endpoint_name = '<endpoint-name>'",
          "  AND variant_name = '<variant-name>'",
          "  AND datehour = '2025/01/31/14'",
          "  AND eventmetadata.inferenceid = '<inference-id>'",
          'LIMIT 1',
        ].join('\n'),
      );
      expect(audit.exampleBedrockQuery).toMatch(/FROM "fmft_dev_predictions"\."bedrock_invocations"\nWHERE datehour = '2025\/01\/31\/14'\n  AND schematype = 'ModelInvocationLog'\n  AND requestid = '<request-id>'\nLIMIT 1$/);
    });

    test('query values are SQL string literals with quotes doubled; the hour must be yyyy/MM/dd/HH', () => {
      const sql = audit.findPredictionQuery({ endpointName: "x' OR '1'='1", variantName: 'current', hour: '2025/02/01/00', inferenceId: 'a' });
      expect(sql).toContain("WHERE endpoint_name = 'x'' OR ''1''=''1'");
      for (const hour of ['2025-01-31-14', '2025/1/31/14', '2025/01/31/24', '2025/13/01/00', '2025/01/31']) {
        expect(() => audit.findPredictionQuery({ endpointName: 'e', variantName: 'v', hour, inferenceId: 'i' })).toThrow(
          /hour must be a UTC hour as yyyy\/MM\/dd\/HH/,
        );
        expect(() => audit.findBedrockInvocationQuery({ hour, requestId: 'r' })).toThrow(/hour must be a UTC hour/);
      }
    });
  });

  test('projectionDays, cutoff and result expiry follow the props', () => {
    const f = fixture({ projectionDays: 30, bytesScannedCutoffPerQuery: 50_000_000, resultExpirationDays: 7, retainOnDelete: false });
    const audit = f.make();
    const template = Template.fromStack(f.stack);
    const tables = Object.values(template.findResources('AWS::Glue::Table')) as any[];
    expect(tables.map((t) => t.Properties.TableInput.Parameters['projection.datehour.range'])).toEqual(['NOW-30DAYS,NOW', 'NOW-30DAYS,NOW']);
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 50_000_000 }),
    });
    const bucket = template.findResources('AWS::S3::Bucket')[logicalId(f.stack, audit.resultsBucket.bucket)];
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([expect.objectContaining({ Prefix: 'results/', ExpirationInDays: 7 })]));
    expect(bucket.DeletionPolicy).toBe('Delete');
  });

  describe('grantQuery', () => {
    const f = fixture();
    const audit = f.make();
    const role = new MlServiceRole(f.stack, 'Auditor', { trust: { service: 'sagemaker.amazonaws.com' }, description: 'Audit queries' });
    audit.grantQuery(role);
    const template = Template.fromStack(f.stack);
    const statements = (Object.values(template.findResources('AWS::IAM::ManagedPolicy'))[0] as any).Properties.PolicyDocument.Statement;
    const accountId = { Ref: 'AWS::AccountId' };
    const arn = (service: string, resource: string) => JSON.stringify({ 'Fn::Join': ['', [`arn:aws:${service}:us-east-1:`, accountId, `:${resource}`]] });
    const viaS3 = ` if ${JSON.stringify({ StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } })}`;
    // Bucket ARNs built from a name carry no region or account, so the stack's known region fixes the partition.
    const s3Arn = (name: string) => JSON.stringify(`arn:aws:s3:::${name}`);
    const results = getAtt(f.stack, audit.resultsBucket.bucket);
    const resultsArn = JSON.stringify(results);
    const resultObjects = JSON.stringify({ 'Fn::Join': ['', [results, '/results/*']] });
    const listUnder = (prefix: string) => ` if ${JSON.stringify({ StringLike: { 's3:prefix': [`${prefix}*`] } })}`;

    test('exactly the Athena, Glue, S3 and KMS permissions a query needs, each on its own resource', () => {
      const athena = [
        'BatchGetQueryExecution',
        'GetQueryExecution',
        'GetQueryResults',
        'GetQueryRuntimeStatistics',
        'GetWorkGroup',
        'ListQueryExecutions',
        'StartQueryExecution',
        'StopQueryExecution',
      ].map((a) => `athena:${a} ${arn('athena', 'workgroup/fmft-dev-predictions')}`);
      const glueResources = ['catalog', 'database/fmft_dev_predictions', 'table/fmft_dev_predictions/data_capture', 'table/fmft_dev_predictions/bedrock_invocations'];
      const glue = ['GetDatabase', 'GetPartitions', 'GetTable', 'GetTables'].flatMap((a) => glueResources.map((r) => `glue:${a} ${arn('glue', r)}`));
      const s3 = [
        `s3:GetObject ${s3Arn('fmft-dev-model-artifacts/data-capture/*')}`,
        `s3:GetObjectVersion ${s3Arn('fmft-dev-model-artifacts/data-capture/*')}`,
        `s3:ListBucket ${s3Arn('fmft-dev-model-artifacts')}${listUnder('data-capture/')}`,
        `s3:GetObject ${s3Arn('fmft-dev-invocation-logs/bedrock-invocations/*')}`,
        `s3:GetObjectVersion ${s3Arn('fmft-dev-invocation-logs/bedrock-invocations/*')}`,
        `s3:ListBucket ${s3Arn('fmft-dev-invocation-logs')}${listUnder('bedrock-invocations/')}`,
        `s3:GetObject ${resultObjects}`,
        `s3:GetObjectVersion ${resultObjects}`,
        `s3:PutObject ${resultObjects}`,
        `s3:AbortMultipartUpload ${resultObjects}`,
        `s3:ListBucket ${resultsArn}${listUnder('results/')}`,
        ...[s3Arn('fmft-dev-model-artifacts'), s3Arn('fmft-dev-invocation-logs'), resultsArn].map((b) => `s3:GetBucketLocation ${b}`),
      ];
      const kms = [
        `kms:Decrypt ${JSON.stringify(getAtt(f.stack, f.dataKey))}${viaS3}`,
        `kms:Decrypt ${JSON.stringify(getAtt(f.stack, f.logsKey))}${viaS3}`,
        `kms:GenerateDataKey ${JSON.stringify(getAtt(f.stack, f.logsKey))}${viaS3}`,
      ];
      expect(grantsOf(statements)).toEqual([...athena, ...glue, ...s3, ...kms].sort());
    });

    test('no wildcard action and no write outside the results prefix', () => {
      const granted = grantsOf(statements);
      expect(granted.filter((g) => g.split(' ')[0].includes('*'))).toEqual([]);
      expect(granted.filter((g) => /^s3:(Put|Abort|Delete)/.test(g) && !g.includes('/results/*'))).toEqual([]);
      expect(granted.filter((g) => g.startsWith('s3:Delete') || g.startsWith('glue:Create') || g.startsWith('glue:Update'))).toEqual([]);
    });

    test('the IAM5 findings acknowledged on the grantee are exactly the three object prefixes', () => {
      const acks: Record<string, string> = {};
      for (const e of role.node.metadata) {
        if (e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acks, e.data);
      }
      expect(Object.keys(acks).sort()).toEqual(
        [
          'AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:s3:::fmft-dev-invocation-logs/bedrock-invocations/*]',
          'AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:s3:::fmft-dev-model-artifacts/data-capture/*]',
          `AwsSolutions::AwsSolutions-IAM5[Resource::<${logicalId(f.stack, audit.resultsBucket.bucket)}.Arn>/results/*]`,
        ].sort(),
      );
    });
  });

  test('cdk-nag: every pack runs on the construct and its inputs with no unacknowledged finding and no idle acknowledgement', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-audit-'));
    const app = testApp(outdir);
    const stack = new Stack(app, 'AuditStack', { env: { region: ENVIRONMENTS.dev.primaryRegion } });
    const audit = fixture({}, stack).make();
    audit.grantQuery(new MlServiceRole(stack, 'Auditor', { trust: { service: 'sagemaker.amazonaws.com' }, description: 'Audit queries' }));
    addCompliancePacks(app);
    try {
      app.synth();
    } catch (e) {
      if (!String((e as Error).message).startsWith('Validation failed')) throw e;
    }
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
    // The Serverless pack has no rule for these resource types (no function, queue or API) and files no report.
    expect(report.pluginReports.map((p) => p.pluginName)).toEqual(expect.arrayContaining(NAG_PACKS.filter((p) => p !== 'Serverless')));
    const findings = report.pluginReports.flatMap((p) =>
      p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)),
    );
    expect(findings).toEqual([]);
    const suppressed = new Set(
      report.pluginReports.flatMap((p) => (p.suppressedViolations ?? []).map((s) => `${s.acknowledgedAt} ${s.acknowledgedId}`)),
    );
    const idle: string[] = [];
    for (const c of audit.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const id of Object.keys(entry.data as Record<string, string>)) {
          if (NAG_PACKS.some((pack) => id.startsWith(`${pack}::`)) && !suppressed.has(`${c.node.path} ${id}`)) idle.push(`${c.node.path} ${id}`);
        }
      }
    }
    expect(idle).toEqual([]);
  });

  describe('validation', () => {
    test.each([
      ['upper case', 'Fmft_dev'],
      ['hyphens', 'fmft-dev-predictions'],
      ['nothing', ''],
      ['256 characters', 'a'.repeat(256)],
    ])('databaseName of %s is rejected', (_what, databaseName) => {
      expect(() => fixture({ databaseName }).make()).toThrow(/databaseName must be 1 to 255 lower-case letters, digits or '_'/);
    });

    test.each([
      ['a space', 'fmft dev'],
      ['a slash', 'fmft/dev'],
      ['nothing', ''],
      ['129 characters', 'w'.repeat(129)],
    ])('workGroupName with %s is rejected', (_what, workGroupName) => {
      expect(() => fixture({ workGroupName }).make()).toThrow(/workGroupName must be 1 to 128 letters, digits, '\.', '_' or '-'/);
    });

    test.each([0, 3651, 1.5])('projectionDays %p is rejected', (projectionDays) => {
      expect(() => fixture({ projectionDays }).make()).toThrow(
        new RegExp(`projectionDays must be a whole number from 1 to 3650, got ${projectionDays}`),
      );
    });

    test('projectionDays 1 and 3650 are accepted', () => {
      expect(() => fixture({ projectionDays: 1 }).make()).not.toThrow();
      expect(() => fixture({ projectionDays: 3650 }).make()).not.toThrow();
    });

    test.each([9_999_999, 0, 10_000_000.5])('bytesScannedCutoffPerQuery %p is rejected (Athena minimum 10,000,000)', (cutoff) => {
      expect(() => fixture({ bytesScannedCutoffPerQuery: cutoff }).make()).toThrow(
        /bytesScannedCutoffPerQuery must be a whole number of bytes >= 10000000 \(Athena's minimum\)/,
      );
    });

    test('bytesScannedCutoffPerQuery of exactly 10,000,000 is accepted', () => {
      expect(() => fixture({ bytesScannedCutoffPerQuery: 10_000_000 }).make()).not.toThrow();
    });

    test.each([0, 2.5])('resultExpirationDays %p is rejected', (days) => {
      expect(() => fixture({ resultExpirationDays: days }).make()).toThrow(new RegExp(`resultExpirationDays must be a whole number >= 1, got ${days}`));
    });

    test('every problem is reported in one error', () => {
      expect(() =>
        fixture({ databaseName: 'Bad-Name', workGroupName: 'bad name', projectionDays: 0, bytesScannedCutoffPerQuery: 1, resultExpirationDays: 0 }).make(),
      ).toThrow(/Invalid PredictionAudit props:\n- databaseName.*\n- workGroupName.*\n- projectionDays.*\n- bytesScannedCutoffPerQuery.*\n- resultExpirationDays/);
    });

    test('unresolved tokens are not validated', () => {
      const f = fixture();
      const text = new CfnParameter(f.stack, 'Name', { type: 'String' }).valueAsString;
      const num = new CfnParameter(f.stack, 'Number', { type: 'Number' }).valueAsNumber;
      expect(() => f.make({ databaseName: text, workGroupName: text, projectionDays: num, bytesScannedCutoffPerQuery: num })).not.toThrow();
      const tables = Object.values(Template.fromStack(f.stack).findResources('AWS::Glue::Table')) as any[];
      expect(tables[0].Properties.TableInput.Parameters['projection.datehour.range']).toEqual({ 'Fn::Join': ['', ['NOW-', { Ref: 'Number' }, 'DAYS,NOW']] });
    });
  });
});
