"""CloudWatch alarms for what must never fail silently, all into the ops topic.

* any Lambda error (API handlers, telemetry writer, detector engine);
* any message in any DLQ (a failed IoT rule action, a Kinesis batch given up on,
  a detector timer that could not fire);
* any API 5XX;
* a Kinesis consumer falling behind (iterator age above five minutes).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from wardlink_infra.functions import WardlinkFunction

PERIOD = cdk.Duration.minutes(5)
MAX_ITERATOR_AGE_MS = 5 * 60 * 1000


class Monitoring(Construct):
    """Creates the alarms; ``alarms`` lists them for tests and outputs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ops_topic: sns.ITopic,
        functions: Sequence[WardlinkFunction],
        stream_consumers: Sequence[WardlinkFunction],
        queues: Sequence[tuple[str, sqs.IQueue]],
        api: apigw.RestApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = cw_actions.SnsAction(ops_topic)
        self.alarms: list[cloudwatch.Alarm] = []

        for fn in functions:
            name = fn.node.path.replace("/", "-")
            self._alarm(
                f"{fn.node.id}Errors",
                fn.function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=1,
                description=f"Lambda {name} reported errors",
            )
        for fn in stream_consumers:
            self._alarm(
                f"{fn.node.id}IteratorAge",
                fn.function.metric("IteratorAge", period=PERIOD, statistic="Maximum"),
                threshold=MAX_ITERATOR_AGE_MS,
                description=f"{fn.node.path} is more than 5 minutes behind the uplink stream",
            )
        for label, queue in queues:
            self._alarm(
                f"{label}Depth",
                queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                threshold=1,
                description=f"Messages waiting in DLQ {label}: something failed and was kept",
            )
        self._alarm(
            "Api5xx",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            threshold=1,
            description="The Wardlink API answered 5XX",
        )

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, *, threshold: float,
               description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
            actions_enabled=True,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
