"""The one REST API gateways (and support staff) call, with SigV4 (AWS_IAM) auth.

Every method requires IAM authorization, and the resource policy additionally
limits callers to principals of this account. Bodies are validated by API
Gateway against models derived from the handlers' pydantic models before a
Lambda runs; path and query parameters are declared (and required ones
enforced). Access logs are JSON in a KMS-encrypted log group; execution logs are
at ERROR with data tracing off (bodies could carry identifiers we do not want in
logs); X-Ray tracing is on. A regional WAF web ACL fronts the stage.

Gateway routes are ``/gateways/{gateway_id}/devices...``; the token-exchange role
gets ``execute-api:Invoke`` on them only with ``${credentials-iot:ThingName}`` in
place of the gateway, so IAM refuses a gateway on another gateway's paths. Fleet
search (``/devices``, and support's ``/fleet/devices``) and alarms (``/alarms...``)
belong to the support role (``support_role``), which support staff and operators
assume, and so do Device Defender's audit findings (``/audit/findings``). The grants
are ``wardlink.contract.access``, which the local cloud enforces too; the handlers
learn which callers are gateways from ``GATEWAY_ROLE_NAME``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct
from pydantic import BaseModel

from wardlink.contract.access import GATEWAY_GRANTS, SUPPORT_GRANTS, Grant
from wardlink.contract.diagnostics import DiagnosticsDecisionBody, DiagnosticsRequestBody
from wardlink.contract.fleet import FLEET_SEARCH_PARAMETERS
from wardlink.contract.models import AlarmActionRequest, DeviceRegistration, UploadRequest
from wardlink_infra import grants
from wardlink_infra.api_models import request_schema
from wardlink_infra.buckets import DATA_PREFIX_DEVICES, DATA_PREFIX_DIAGNOSTICS
from wardlink_infra.functions import FunctionKit, WardlinkFunction
from wardlink_infra.nag import acknowledge, acknowledge_wildcard_resource
from wardlink_infra.settings import WardlinkSettings
from wardlink_infra.tables import Tables

DEVICES_HANDLER = "wardlink.cloudapi.handlers.devices.handler"
UPLOADS_HANDLER = "wardlink.cloudapi.handlers.uploads.handler"
ALARMS_HANDLER = "wardlink.cloudapi.handlers.alarms.handler"
DIAGNOSTICS_HANDLER = "wardlink.cloudapi.handlers.diagnostics.handler"
AUDIT_HANDLER = "wardlink.cloudapi.handlers.audit.handler"
#: Device Defender's audit reads; IAM gives them no resource type (only "*").
AUDIT_READ_ACTIONS = ["iot:ListAuditTasks", "iot:DescribeAuditTask", "iot:ListAuditFindings"]
FLEET_HANDLER = "wardlink.cloudapi.handlers.fleet.handler"
STAGE_NAME = "v1"
PAGING_QUERY = ("limit", "next_token")


def gateway_role_name(prefix: str) -> str:
    """The token-exchange role's fixed name: the handlers tell gateways apart by it."""
    return f"{prefix}-gateway-tes"


def _query(*names: str) -> dict[str, bool]:
    return {f"method.request.querystring.{name}": False for name in names}


def _path(*names: str) -> dict[str, bool]:
    return {f"method.request.path.{name}": True for name in names}


class WardlinkApi(Construct):
    """``rest_api``, its four handler functions and the optional ``web_acl``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WardlinkSettings,
        kit: FunctionKit,
        tables: Tables,
        data_bucket: s3.IBucket,
        data_key: kms.IKey,
        audit_key: kms.IKey,
        telemetry_reader: WardlinkFunction | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._audit_key = audit_key
        self._log_retention = kit.log_retention
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=kit.log_retention,
            encryption_key=audit_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.rest_api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{settings.prefix}-api",
            description="Wardlink device registry, uploads and alarm triage (SigV4 only)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            default_method_options=apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.IAM
            ),
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="OnlyPrincipalsOfThisAccount",
                        principals=[iam.AccountRootPrincipal()],
                        actions=["execute-api:Invoke"],
                        resources=["execute-api:/*"],
                    )
                ]
            ),
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                tracing_enabled=True,
                metrics_enabled=True,
                throttling_rate_limit=100,
                throttling_burst_limit=200,
            ),
        )
        self._body_validator = self.rest_api.add_request_validator(
            "BodyAndParams", validate_request_body=True, validate_request_parameters=True
        )
        self._params_validator = self.rest_api.add_request_validator(
            "ParamsOnly", validate_request_body=False, validate_request_parameters=True
        )

        self.devices_fn = self._devices_function(kit, tables)
        self.uploads_fn = self._uploads_function(kit, tables, data_bucket)
        self.alarms_fn = self._alarms_function(kit, tables)
        self.diagnostics_fn = self._diagnostics_function(kit, data_bucket)
        self.audit_fn = self._audit_function(kit)
        self.fleet_fn = self._fleet_function(kit, tables)
        self.functions: tuple[WardlinkFunction, ...] = (
            self.devices_fn,
            self.uploads_fn,
            self.alarms_fn,
            self.diagnostics_fn,
            self.audit_fn,
            self.fleet_fn,
        )
        self.telemetry_fn = telemetry_reader
        if telemetry_reader is not None:
            telemetry_reader.allow(grants.table_access(tables.devices, ["dynamodb:GetItem"]))
            self.functions += (telemetry_reader,)
        for fn in self.functions:
            fn.allow(grants.data_key_use(data_key))
            fn.function.add_environment("GATEWAY_ROLE_NAME", gateway_role_name(settings.prefix))

        self._routes()
        self.support_role = self._support_role()
        self.web_acl = self._web_acl() if settings.enable_waf else None
        self._acknowledge()

    # -- functions ---------------------------------------------------------------

    def _devices_function(self, kit: FunctionKit, tables: Tables) -> WardlinkFunction:
        fn = WardlinkFunction(
            self, "Devices", kit=kit, handler=DEVICES_HANDLER,
            description="Device registration/upsert, lookup and fleet search",
            reserved_concurrency=self._settings.concurrency.devices,
        )
        fn.allow(
            grants.table_access(
                tables.devices, [*grants.READ_ITEM, *grants.WRITE_ITEM, *grants.QUERY],
                indexes=["by_gateway", "by_model_firmware", "by_site"],
            ),
            grants.table_access(
                tables.gateways, [*grants.READ_ITEM, *grants.WRITE_ITEM, *grants.QUERY],
                indexes=["by_site"],
            ),
        )
        return fn

    def _uploads_function(self, kit: FunctionKit, tables: Tables,
                          data_bucket: s3.IBucket) -> WardlinkFunction:
        fn = WardlinkFunction(
            self, "Uploads", kit=kit, handler=UPLOADS_HANDLER,
            description="Presigned S3 PUT URLs for procedure data files",
            reserved_concurrency=self._settings.concurrency.uploads,
            environment={"UPLOAD_URL_TTL_S": str(self._settings.upload_url_ttl_s)},
        )
        self._uploads_object_arn = data_bucket.arn_for_objects(f"{DATA_PREFIX_DEVICES}*")
        fn.allow(
            grants.table_access(tables.devices, ["dynamodb:GetItem", "dynamodb:UpdateItem"]),
            iam.PolicyStatement(
                sid="SignUploadsUnderDevicePrefix",
                actions=["s3:PutObject"],
                resources=[self._uploads_object_arn],
            ),
        )
        return fn

    def _diagnostics_function(self, kit: FunctionKit,
                              data_bucket: s3.IBucket) -> WardlinkFunction:
        fn = WardlinkFunction(
            self, "Diagnostics", kit=kit, handler=DIAGNOSTICS_HANDLER,
            description="Diagnostics bundles on request: support asks, the site decides",
            reserved_concurrency=self._settings.concurrency.diagnostics,
            environment={"UPLOAD_URL_TTL_S": str(self._settings.upload_url_ttl_s)},
        )
        self._diagnostics_object_arn = data_bucket.arn_for_objects(f"{DATA_PREFIX_DIAGNOSTICS}*")
        fn.allow(
            iam.PolicyStatement(
                sid="RequestsAndBundlesUnderDiagnosticsPrefix",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[self._diagnostics_object_arn],
            ),
            iam.PolicyStatement(
                sid="ListDiagnosticsPrefixOnly",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{DATA_PREFIX_DIAGNOSTICS}*"]}},
            ),
        )
        return fn

    def _alarms_function(self, kit: FunctionKit, tables: Tables) -> WardlinkFunction:
        fn = WardlinkFunction(
            self, "Alarms", kit=kit, handler=ALARMS_HANDLER,
            description="Alarm triage for manufacturer support (list, show, act, history)",
            reserved_concurrency=self._settings.concurrency.alarms,
        )
        fn.allow(
            grants.table_access(
                tables.alarms, [*grants.READ_ITEM, *grants.WRITE_ITEM, *grants.QUERY],
                indexes=["by_state"],
            ),
            grants.table_access(
                tables.alarm_audit, ["dynamodb:PutItem", "dynamodb:ConditionCheckItem",
                                     *grants.QUERY],
            ),
            grants.table_access(tables.devices, grants.READ_ITEM),
        )
        return fn

    def _audit_function(self, kit: FunctionKit) -> WardlinkFunction:
        fn = WardlinkFunction(
            self, "Audit", kit=kit, handler=AUDIT_HANDLER,
            description="Device Defender audit findings for support (latest audit)",
            reserved_concurrency=self._settings.concurrency.audit,
        )
        fn.allow(iam.PolicyStatement(sid="ReadDeviceDefenderAudits", actions=AUDIT_READ_ACTIONS,
                                     resources=["*"]))
        acknowledge(
            fn.policy, "AwsSolutions-IAM5[Resource::*]",
            "Besides X-Ray's PutTraceSegments/PutTelemetryRecords, the '*' carries only "
            "Device Defender's ListAuditTasks, DescribeAuditTask and ListAuditFindings: "
            "reads of the account's audits, which IAM gives no resource type to scope.",
        )
        return fn

    def _fleet_function(self, kit: FunctionKit, tables: Tables) -> WardlinkFunction:
        fn = WardlinkFunction(
            self, "FleetSearch", kit=kit, handler=FLEET_HANDLER,
            description="Support's fleet search (category, model prefix, firmware, site, gateway)",
            reserved_concurrency=self._settings.concurrency.fleet_search,
        )
        fn.allow(
            grants.table_access(
                tables.devices, grants.QUERY,
                indexes=["by_category_firmware", "by_model_prefix", "by_firmware_model",
                         "by_gateway", "by_site"],
            ),
            grants.table_scan(tables.devices, sid="FleetSearchOverFiltersNoIndexServes"),
        )
        return fn

    # -- resources and methods -----------------------------------------------------

    def _model(self, model: type[BaseModel]) -> apigw.IModel:
        cfn = apigw.CfnModel(
            self,
            f"{model.__name__}Model",
            rest_api_id=self.rest_api.rest_api_id,
            name=model.__name__,
            content_type="application/json",
            schema=request_schema(model),
            description=f"Request body: {model.__name__}",
        )
        return apigw.Model.from_model_name(self, f"{model.__name__}Ref", cfn.ref)

    def _method(
        self,
        resource: apigw.IResource,
        http_method: str,
        fn: WardlinkFunction,
        *,
        body: type[BaseModel] | None = None,
        params: dict[str, bool] | None = None,
    ) -> apigw.Method:
        integration = apigw.LambdaIntegration(fn.function, proxy=True, allow_test_invoke=False)
        return resource.add_method(
            http_method,
            integration,
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=self._body_validator if body else self._params_validator,
            request_models={"application/json": self._model(body)} if body else None,
            request_parameters=params or None,
        )

    def _routes(self) -> None:
        root = self.rest_api.root
        gateway = root.add_resource("gateways").add_resource("{gateway_id}")
        self._method(gateway.add_resource("sequence"), "GET", self.devices_fn,
                     params=_path("gateway_id"))
        own = gateway.add_resource("devices")
        self._method(own, "POST", self.devices_fn, body=DeviceRegistration,
                     params=_path("gateway_id"))
        self._method(own, "GET", self.devices_fn, params={
            **_path("gateway_id"), **_query("model", "firmware_version", "site_id", *PAGING_QUERY)
        })  # fmt: skip
        own_device = own.add_resource("{device_id}")
        self._method(own_device, "GET", self.devices_fn, params=_path("gateway_id", "device_id"))
        self._method(own_device.add_resource("uploads"), "POST", self.uploads_fn,
                     body=UploadRequest, params=_path("gateway_id", "device_id"))

        devices = root.add_resource("devices")
        self._method(
            devices, "GET", self.devices_fn,
            params=_query("gateway_id", "model", "firmware_version", "site_id", *PAGING_QUERY),
        )
        device = devices.add_resource("{device_uid}")
        self._method(device, "GET", self.devices_fn, params=_path("device_uid"))
        if self.telemetry_fn is not None:
            self._method(device.add_resource("telemetry"), "GET", self.telemetry_fn,
                         params={**_path("device_uid"), **_query("since_s", *PAGING_QUERY)})

        fleet = root.add_resource("fleet").add_resource("devices")
        self._method(fleet, "GET", self.fleet_fn, params=_query(*FLEET_SEARCH_PARAMETERS,
                                                                *PAGING_QUERY))  # fmt: skip

        alarms = root.add_resource("alarms")
        self._method(alarms, "GET", self.alarms_fn, params=_query("state", *PAGING_QUERY))
        alarm = alarms.add_resource("{alarm_id}")
        self._method(alarm, "GET", self.alarms_fn, params=_path("alarm_id"))
        history = alarm.add_resource("history")
        self._method(history, "GET", self.alarms_fn,
                     params={**_path("alarm_id"), **_query(*PAGING_QUERY)})
        action = alarm.add_resource("{action}")
        self._method(action, "POST", self.alarms_fn, body=AlarmActionRequest,
                     params=_path("alarm_id", "action"))

        diagnostics = gateway.add_resource("diagnostics")
        self._method(diagnostics, "POST", self.diagnostics_fn, body=DiagnosticsRequestBody,
                     params=_path("gateway_id"))
        self._method(diagnostics, "GET", self.diagnostics_fn,
                     params={**_path("gateway_id"), **_query("state")})
        request = diagnostics.add_resource("{request_id}")
        self._method(request, "GET", self.diagnostics_fn, params=_path("gateway_id", "request_id"))
        self._method(request.add_resource("{decision}"), "POST", self.diagnostics_fn,
                     body=DiagnosticsDecisionBody,
                     params=_path("gateway_id", "request_id", "decision"))
        findings = root.add_resource("audit").add_resource("findings")
        self._method(findings, "GET", self.audit_fn,
                     params=_query("days", "task_id", *PAGING_QUERY))

    def _invoke_arns(self, grants_: tuple[Grant, ...]) -> list[str]:
        return [
            self.rest_api.arn_for_execute_api(g.method, g.iam_path(), STAGE_NAME) for g in grants_
        ]

    def gateway_invoke_arns(self) -> list[str]:
        """``execute-api`` ARNs of a gateway's own routes: its thing name is in the path."""
        return self._invoke_arns(GATEWAY_GRANTS)

    def _support_role(self) -> iam.Role:
        """Support staff and operators: fleet search, any device, alarm triage."""
        role = iam.Role(
            self, "SupportRole",
            assumed_by=iam.AccountRootPrincipal(),
            description="Wardlink support and operators: fleet search and alarm actions",
            max_session_duration=cdk.Duration.hours(1),
        )  # fmt: skip
        arns = self._invoke_arns(SUPPORT_GRANTS)
        policy = iam.ManagedPolicy(
            self, "SupportPolicy", roles=[role],
            description="Fleet-wide reads and alarm actions of the Wardlink API",
            statements=[iam.PolicyStatement(sid="CallSupportRoutesOfTheWardlinkApi",
                                            actions=["execute-api:Invoke"], resources=arns)],
        )  # fmt: skip
        for arn in arns:
            if "*" in str(cdk.Stack.of(self).resolve(arn)):
                acknowledge_wildcard_resource(
                    policy, arn,
                    "The '*' stands for path parameters (device, gateway, alarm id and "
                    "action) that execute-api ARNs cannot name; method and path prefix "
                    "are fixed, and support is meant to reach every device and alarm.",
                )
        return role

    # -- WAF -----------------------------------------------------------------------

    def _web_acl(self) -> wafv2.CfnWebACL:
        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        def managed(name: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name
                    )
                ),
                visibility_config=visibility(name),
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"{self._settings.prefix}-api"),
            rules=[
                managed("AWSManagedRulesCommonRuleSet", 0),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 1),
                wafv2.CfnWebACL.RuleProperty(
                    name="PerSourceRateLimit",
                    priority=2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=2000, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=visibility("PerSourceRateLimit"),
                ),
            ],
        )
        # WAF only delivers to log groups whose name starts with aws-waf-logs-.
        waf_log_group_name = f"aws-waf-logs-{self._settings.prefix}-api"
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=waf_log_group_name,
            retention=self._log_retention,
            encryption_key=self._audit_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        waf_logging = wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=acl.attr_arn,
            # WAF wants the bare log-group ARN, without the ":*" CloudFormation returns.
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=waf_log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": name}
                )
                for name in ("authorization", "x-amz-security-token")
            ],
        )
        waf_logging.node.add_dependency(waf_logs)
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl

    # -- acknowledged findings -------------------------------------------------------

    def _acknowledge(self) -> None:
        api = self.rest_api
        acknowledge(
            api,
            "AwsSolutions-COG4",
            "Callers are gateways holding Greengrass token-exchange credentials and support "
            "staff with IAM roles; both sign with SigV4 (AWS_IAM authorization on every "
            "method). There is no end-user population for a Cognito user pool.",
        )
        acknowledge(
            api,
            "HIPAA.Security-APIGWCacheEnabledAndEncrypted",
            "Responses are per-caller reads of mutable state (device registry, alarm "
            "state); a stage cache would serve stale alarm states to triage and hold "
            "identifiers outside the encrypted tables. Caching is intentionally off.",
        )
        acknowledge(
            api,
            "HIPAA.Security-APIGWSSLEnabled",
            "Client certificates authenticate API Gateway to HTTP backends; every "
            "integration here is a Lambda proxy invoked inside AWS with IAM, so there is "
            "no HTTP backend to present a certificate to.",
        )
        acknowledge(
            api.node.find_child("CloudWatchRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role must carry this AWS-maintained "
            "policy (API Gateway writes execution and access logs through it); the role is "
            "assumable only by apigateway.amazonaws.com.",
        )
        acknowledge_wildcard_resource(
            self.uploads_fn.policy,
            self._uploads_object_arn,
            "Upload object keys are minted per upload (devices/{gateway}/{device}/"
            "{upload_id}/{file}); the grant is PutObject only, under the devices/ "
            "prefix of the data bucket, used to presign one PUT at a time.",
        )
        acknowledge_wildcard_resource(
            self.diagnostics_fn.policy,
            self._diagnostics_object_arn,
            "Diagnostics requests and bundles are keyed per request (diagnostics/{gateway}/"
            "{request_id}/...); the grant is GetObject and PutObject under the diagnostics/ "
            "prefix of the data bucket only, to keep requests and presign one PUT or GET.",
        )
        for fn in self.functions:
            acknowledge(
                fn.function,
                "HIPAA.Security-LambdaDLQ",
                "Invoked synchronously by API Gateway only: a failure is returned to the "
                "caller as a 5XX (and alarmed on); Lambda DLQs apply to asynchronous "
                "invocations, which this function never receives.",
            )

