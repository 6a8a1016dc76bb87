#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addCompliancePacks } from '../lib/compliance-packs';
import { loadEnvironmentConfigOrExit } from '../lib/config/environments';
import { addFineTuningPlatform } from '../lib/fine-tuning-platform';

const app = new App();
// -c serving=<file.json> replaces the environment's serving.variants / sharedEndpoint (approved versions to serve).
// A bad config prints its problems once, without a stack trace, and exits 1.
const config = loadEnvironmentConfigOrExit(app.node.tryGetContext('env') ?? 'dev', app.node.tryGetContext('serving'));
addFineTuningPlatform(app, { config });
addCompliancePacks(app);
