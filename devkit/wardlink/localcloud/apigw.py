"""API Gateway REST proxy events and Lambda contexts, built for local invocations.

The handlers only ever see what API Gateway would give them: the v1 proxy event
with the raw (still encoded) ``path``, decoded ``pathParameters`` and query
parameters, and ``requestContext.identity`` filled from the verified SigV4 caller
(as AWS_IAM authorization does).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from wardlink.localcloud.routes import RouteMatch
from wardlink.localcloud.sigv4 import Principal

STAGE = "local"


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name: str
    region: str = "us-east-1"
    account_id: str = "000000000000"
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_s: float = 30.0
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


def rest_proxy_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    match: RouteMatch,
    principal: Principal,
    source_ip: str,
) -> dict[str, Any]:
    query_pairs = parse_qsl(raw_query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for key, value in query_pairs:
        multi_query.setdefault(key, []).append(value)
    multi_headers: dict[str, list[str]] = {}
    for key, value in headers.items():
        multi_headers.setdefault(key, []).append(value)
    request_id = str(uuid.uuid4())
    text: str | None = None
    is_base64 = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
    return {
        "resource": match.route.resource,
        "path": raw_path,
        "httpMethod": method.upper(),
        "headers": dict(headers),
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": match.route.resource,
            "httpMethod": method.upper(),
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "path": f"/{STAGE}{raw_path}",
            "accountId": principal.account_id,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": principal.account_id,
                "cognitoIdentityId": None,
                "caller": principal.user_id,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": principal.access_key,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": principal.arn,
                "userAgent": headers.get("User-Agent") or headers.get("user-agent"),
                "user": principal.user_id,
            },
            "domainName": headers.get("Host") or headers.get("host") or "localhost",
            "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }
