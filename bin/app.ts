#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addCompliancePacks } from '../lib/compliance-packs';
import { loadEnvironmentConfig } from '../lib/config/environments';
import { addFineTuningPlatform } from '../lib/fine-tuning-platform';

const app = new App();
// -c serving=<file.json> replaces the environment's serving.variants / sharedEndpoint (approved versions to serve).
const config = loadEnvironmentConfig(app.node.tryGetContext('env') ?? 'dev', app.node.tryGetContext('serving'));
addFineTuningPlatform(app, { config });
addCompliancePacks(app);
