"""The detector engine in AWS: the AWS implementations of the engine's three seams.

- ``state_store.DynamoDBStateStore``: detector instances in DynamoDB with
  conditional writes on ``version`` (concurrent shards stay correct);
- ``scheduler.EventBridgeTimers``: timers as one-time EventBridge Scheduler
  schedules that invoke the engine back;
- ``sink.AwsActionSink``: SNS alerts (enriched, PHI-free), SQS, Lambda, IoT Core,
  DynamoDB, with retries and dead-lettering;
- ``alarm_store.AlarmRecorder``: alarm rows and their audit trail;
- ``runtime.EngineRuntime``: Kinesis batches and timer callbacks;
- ``handler``: the Lambda entry point the CDK app deploys.

This subpackage imports boto3 and Powertools; ``wardlink.detectors`` itself does not.
"""

from wardlink.detectors.aws.entrypoint import handler

__all__ = ["handler"]
