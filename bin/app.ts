#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addCompliancePacks } from '../lib/compliance-packs';
import { exitOnConfigError, loadEnvironmentConfigOrExit } from '../lib/config/environments';
import { failoverConfig, failoverContext } from '../lib/config/failover';
import { addFineTuningPlatform } from '../lib/fine-tuning-platform';

const app = new App();
// -c serving=<file.json> replaces the environment's serving.variants / sharedEndpoint (approved versions to serve).
// A bad config prints its problems once, without a stack trace, and exits 1.
const config = loadEnvironmentConfigOrExit(app.node.tryGetContext('env') ?? 'dev', app.node.tryGetContext('serving'));
// -c failover=true: the same stacks in drRegion, on the replicas (the config is checked for that region too).
const failover = exitOnConfigError(() => failoverContext(app.node.tryGetContext('failover'), config.name) && Boolean(failoverConfig(config)));
addFineTuningPlatform(app, { config, failover });
addCompliancePacks(app);
