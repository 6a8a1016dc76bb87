"""Amazon Bedrock customization path: run-input checks against the base-model table, data validation with
the data toolkit, predictions from a custom model, invocation-logging configuration and a guard against
forgotten provisioned throughput. The handlers run as Lambda functions of the Bedrock stack."""
