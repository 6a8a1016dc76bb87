"""API-model proof layer: every AWS API request that the deployed system makes from a definition in the
synthesized templates (pipeline steps, state-machine tasks, custom resources, schedules), checked against that
operation's input shape in the service models botocore ships.

Why: the published SageMaker pipeline schema, cfn-lint and checkov do not carry the APIs' limits (a
1,064-character ``ContainerEntrypoint`` string passed all three and would have failed the first pipeline run:
the API allows 256). botocore's models do: required members, member names, types, enums, lengths, counts,
ranges and patterns.

Run it with ``.venv/bin/python -m tools.api_model cdk.out`` (see ``__main__.py``).
"""
