"""One recipe for every Wardlink Lambda function.

Each function gets its own role with no AWS-managed policies, a customer-managed
policy listing exactly what it may do, a KMS-encrypted log group with retention,
X-Ray active tracing, JSON logs, reserved concurrency and the Powertools layer.
Code is the ``wardlink`` namespace of core and cloud, staged by
``wardlink_infra.assets`` (no Docker bundling, so synthesis works offline); the
handler is a dotted path into it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from wardlink_infra.assets import lambda_code_dir
from wardlink_infra.grants import send_to_queue
from wardlink_infra.nag import acknowledge
from wardlink_infra.settings import WardlinkSettings

_RUNTIMES = {
    "python3.12": lambda_.Runtime.PYTHON_3_12,
    "python3.13": lambda_.Runtime.PYTHON_3_13,
}

DEFAULT_TIMEOUT = cdk.Duration.seconds(10)
_XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
# What Lambda needs to attach a function to a VPC (AWSLambdaVPCAccessExecutionRole's
# actions, written into our own policy); EC2 offers no resource to scope them to.
_VPC_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


_RETENTION_BY_DAYS = {
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    try:
        return _RETENTION_BY_DAYS[days]
    except KeyError:
        raise ValueError(
            f"log retention of {days} days is not one of {sorted(_RETENTION_BY_DAYS)}"
        ) from None


class FunctionKit(Construct):
    """What all functions share: the code asset, the layers, keys and common env."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WardlinkSettings,
        audit_key: kms.IKey,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.audit_key = audit_key
        self.environment = dict(environment)
        self.code = lambda_.Code.from_asset(str(lambda_code_dir()))
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", settings.powertools_layer_arn
        )
        self.runtime = _RUNTIMES[settings.python_runtime]
        self.log_retention = _retention(settings.log_retention_days)


class WardlinkFunction(Construct):
    """A hardened Python function; add permissions with :meth:`allow`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: FunctionKit,
        handler: str,
        description: str,
        reserved_concurrency: int,
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        memory_size: int = 256,
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        async_dead_letter_queue: sqs.IQueue | None = None,
        vpc: ec2.IVpc | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {handler}",
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=kit.log_retention,
            encryption_key=kit.audit_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Everything {handler} may do",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                iam.PolicyStatement(actions=_XRAY_ACTIONS, resources=["*"]),
                *([iam.PolicyStatement(actions=_VPC_ACTIONS, resources=["*"])] if vpc else []),
            ],
        )
        env = {**kit.environment, **(environment or {})}
        env.setdefault("POWERTOOLS_SERVICE_NAME", "wardlink")
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=kit.runtime,
            architecture=lambda_.Architecture.X86_64,
            handler=handler,
            code=kit.code,
            description=description,
            role=self.role,
            layers=[kit.powertools, *layers],
            environment=env,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            vpc=vpc,
            vpc_subnets=(
                ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED) if vpc else None
            ),
            security_groups=list(security_groups) if vpc else None,
            allow_public_subnet=False,
        )
        cfn_function = self.function.node.default_child
        if not isinstance(cfn_function, lambda_.CfnFunction):
            raise TypeError(f"unexpected L1 under {self.function.node.path}: {cfn_function!r}")
        # Set on the L1 resource so that the permissions go into our managed policy,
        # not into an inline default policy the L2 would create for them.
        cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        if async_dead_letter_queue is not None:
            cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
                target_arn=async_dead_letter_queue.queue_arn
            )
            self.policy.add_statements(send_to_queue(async_dead_letter_queue))
        # The role's permissions must exist before the function (and its event source
        # mappings, which Lambda validates against the role) are created.
        self.function.node.add_dependency(self.policy)
        self._acknowledge_wildcards(in_vpc=vpc is not None)

    def allow(self, *statements: iam.PolicyStatement) -> None:
        self.policy.add_statements(*statements)

    def allow_endpoint_discovery(self) -> None:
        """``timestream:DescribeEndpoints``: IAM offers no resource to scope it to."""
        self.policy.add_statements(
            iam.PolicyStatement(actions=["timestream:DescribeEndpoints"], resources=["*"])
        )

    def _acknowledge_wildcards(self, *, in_vpc: bool) -> None:
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Only actions without resource-level permissions use Resource '*': X-Ray "
            "PutTraceSegments/PutTelemetryRecords (active tracing), and where present "
            "timestream:DescribeEndpoints (endpoint discovery) and the EC2 network-interface "
            "actions Lambda needs to run a function in a VPC. Every other statement names "
            "its resources.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "The runtime is pinned (wardlink:pythonRuntime, python3.12 or python3.13) to "
            "match the published Powertools for AWS Lambda v3 layer and the versions the "
            "handlers are tested on; moving to a newer runtime is a deliberate, tested change.",
        )
        if in_vpc:
            return
        acknowledge(
            self.function,
            "HIPAA.Security-LambdaInsideVPC",
            "The function reaches only AWS regional APIs (DynamoDB, S3, Kinesis, SNS, "
            "Timestream, Scheduler) over TLS with SigV4; it has no private network peer. "
            "A VPC would add NAT or interface endpoints (Timestream needs cell-specific "
            "ones) without reducing the data paths, which IAM and KMS already bound.",
        )
