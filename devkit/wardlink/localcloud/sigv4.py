"""Server-side SigV4 verification for the local API, as API Gateway's AWS_IAM auth does.

The local API must refuse what API Gateway would refuse, or a gateway that signs
wrongly would pass every local test and fail in the field. For each request we
parse the ``Authorization`` header, look the access key up in the local principal
table, check the scope (date, region, service) and the clock skew, rebuild the
request from exactly the headers the client says it signed, and recompute the
signature with botocore's ``SigV4Auth`` using the principal's secret. Anything
that does not match is a 403.

Because the payload hash is part of the signature (always, over plain HTTP), a
changed body is refused too; an ``X-Amz-Content-SHA256`` header, if sent, must be
the body's real hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wardlink.contract.access import Role
from wardlink.model.errors import WardlinkError

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class SignatureError(WardlinkError):
    """The request is not signed, or not signed by a known principal, or tampered."""


@dataclass(frozen=True)
class Principal:
    """A local IAM identity: static keys and the ARN API Gateway would report."""

    access_key: str
    secret_key: str
    arn: str
    account_id: str = "000000000000"
    session_token: str | None = None
    #: What IAM would let this identity call: a gateway (with its thing name, as the
    #: IoT credentials provider puts it in the session) or support.
    role: Role = Role.SUPPORT
    thing_name: str | None = None

    @property
    def user_id(self) -> str:
        return "AIDA" + hashlib.sha256(self.access_key.encode()).hexdigest()[:16].upper()


class SigV4Verifier:
    def __init__(
        self,
        principals: Mapping[str, Principal],
        region: str,
        service: str = "execute-api",
        max_skew_s: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._principals = principals
        self._region = region
        self._service = service
        self._max_skew_s = max_skew_s
        self._clock = clock

    def verify(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Principal:
        """Check one request; ``target`` is the raw path and query as received."""
        lower = {k.lower(): v for k, v in headers.items()}
        match = _AUTH_RE.match(lower.get("authorization", "").strip())
        if not match:
            raise SignatureError("Missing Authentication Token")
        access_key, date, region, service, terminal = _split_scope(match["credential"])
        principal = self._principals.get(access_key)
        if principal is None:
            raise SignatureError("The security token included in the request is invalid.")
        if (region, service, terminal) != (self._region, self._service, "aws4_request"):
            raise SignatureError(
                f"Credential should be scoped to {self._region}/{self._service}/aws4_request"
            )
        amz_date = lower.get("x-amz-date", "")
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            raise SignatureError("host and x-amz-date must be signed")
        if any(name not in lower for name in signed):
            raise SignatureError("a signed header is missing from the request")
        self._check_time(amz_date, date)
        if principal.session_token is not None and (
            lower.get("x-amz-security-token") != principal.session_token
            or "x-amz-security-token" not in signed
        ):
            raise SignatureError("The security token included in the request is invalid.")
        declared_hash = lower.get("x-amz-content-sha256")
        if declared_hash is not None and declared_hash != hashlib.sha256(body).hexdigest():
            raise SignatureError("x-amz-content-sha256 does not match the body")

        expected = self._signature(principal, method, target, lower, signed, body, amz_date)
        if not hmac.compare_digest(expected, match["signature"]):
            raise SignatureError(
                "The request signature we calculated does not match the signature you provided."
            )
        return principal

    def _check_time(self, amz_date: str, scope_date: str) -> None:
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError as exc:
            raise SignatureError("X-Amz-Date is missing or malformed") from exc
        if amz_date[:8] != scope_date:
            raise SignatureError("credential scope date does not match X-Amz-Date")
        skew = abs((self._clock() - signed_at).total_seconds())
        if skew > self._max_skew_s:
            raise SignatureError("Signature expired: X-Amz-Date is too far from now")

    def _signature(
        self,
        principal: Principal,
        method: str,
        target: str,
        headers: Mapping[str, str],
        signed: list[str],
        body: bytes,
        amz_date: str,
    ) -> str:
        request = AWSRequest(
            method=method.upper(),
            url=f"http://{headers['host']}{target}",
            headers={name: headers[name] for name in signed},
            data=body,
        )
        request.context["timestamp"] = amz_date
        auth = SigV4Auth(
            Credentials(principal.access_key, principal.secret_key, principal.session_token),
            self._service,
            self._region,
        )
        if auth.signed_headers(auth.headers_to_sign(request)) != ";".join(sorted(signed)):
            raise SignatureError("SignedHeaders lists headers SigV4 does not sign")
        canonical = auth.canonical_request(request)
        return str(auth.signature(auth.string_to_sign(request, canonical), request))


def _split_scope(credential: str) -> tuple[str, str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise SignatureError("Authorization header requires a well-formed Credential")
    return parts[0], parts[1], parts[2], parts[3], parts[4]
