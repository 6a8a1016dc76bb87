#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addCompliancePacks } from '../lib/compliance-packs';
import { loadEnvironmentConfig } from '../lib/config/environments';
import { FineTuningStage } from '../lib/fine-tuning-stage';

const app = new App();
// -c serving=<file.json> replaces the environment's serving.variants / sharedEndpoint (approved versions to serve).
const config = loadEnvironmentConfig(app.node.tryGetContext('env') ?? 'dev', app.node.tryGetContext('serving'));
const stage = new FineTuningStage(app, config.name, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: config.primaryRegion },
});
addCompliancePacks(stage);


