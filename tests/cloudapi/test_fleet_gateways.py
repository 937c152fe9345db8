"""Gateway provisioning, revocation and rotation against the local cloud's IoT registry.

``wardlink fleet gateways`` runs as the operator from the env file the local cloud
writes; its bulk registration task is the local cloud's emulation over moto's
registry (moto lacks the task). The gateways' CSRs are the dev kit's simulated ones.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support.fleet_api import client_for
from wardlink.cli.main import main
from wardlink.cloudclient import ApiClientError, WardlinkApiClient
from wardlink.contract.access import gateway_path, sequence_path
from wardlink.devtools.gateway_csrs import make_csr, simulate, write_gateways
from wardlink.fleet.gateways import error_message, expiring, result_response
from wardlink.localcloud import LocalCloud


def _env_file(cloud: LocalCloud, tmp_path: Path) -> Path:
    path = tmp_path / "cloud.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in cloud.environment().items()))
    return path


def _iot(cloud: LocalCloud, principal: Any = None) -> Any:
    who = principal or cloud.credentials
    return boto3.client(
        "iot",
        endpoint_url=cloud.environment()["AWS_ENDPOINT_URL_IOT"],
        region_name=cloud.region,
        aws_access_key_id=who.access_key,
        aws_secret_access_key=who.secret_key,
        aws_session_token=who.session_token,
        config=Config(retries={"total_max_attempts": 1}),  # a refusal is the answer
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _provision(cloud: LocalCloud, tmp_path: Path, name: str) -> Path:
    out = tmp_path / name
    write_gateways(simulate(1, prefix=name), out)
    env = _env_file(cloud, tmp_path)
    spec = str(out / "gateways.jsonl")
    register = ["fleet", "gateways", "register", "--env-file", str(env)]
    assert main([*register, spec, "--poll", "0.05"]) == 0
    return env


def test_500_gateways_provisioned_with_errors_reported_and_retried(
    local_cloud: LocalCloud, tmp_path: Path, unique: str
) -> None:
    prefix = f"gw-{unique}"
    out = tmp_path / "sim"
    spec = write_gateways(simulate(500, prefix=prefix, sites=7), out)
    iot = _iot(local_cloud)
    iot.create_thing(thingName=f"{prefix}-00042")  # already there, without the gateway type
    lines = spec.read_text().splitlines()
    lines.append(json.dumps({"thing_name": f"{prefix}-bad", "site_id": "s", "csr": "nope"}))
    lines.append(lines[7])  # duplicate thing name
    spec.write_text("\n".join(lines) + "\n")
    env = _env_file(local_cloud, tmp_path)

    code = main(
        ["fleet", "gateways", "register", "--env-file", str(env), str(spec), "--poll", "0.1"]
    )
    assert code == 1
    report = tmp_path / "sim" / "gateways.jsonl.provisioned"
    results = _lines(report / "results.jsonl")
    errors = {e["line"]: e for e in _lines(report / "errors.jsonl")}
    assert len(results) == 499 and set(errors) == {43, 501, 502}
    first = results[0]  # the template's logical names, each an ARN (RegisterThing's response)
    assert first["thing"].endswith(f":thing/{prefix}-00000") and ":cert/" in first["certificate"]
    assert first["policy"].endswith(":policy/" + local_cloud.environment()["GATEWAY_IOT_POLICY"])
    assert "ResourceAlreadyExists" in errors[43]["error"] and "csr" in errors[501]["error"]
    assert errors[502]["error"] == "duplicate of line 8"
    assert (report / "certificates" / f"{prefix}-00000.pem").read_text().startswith("-----BEGIN")
    described = iot.describe_thing(thingName=f"{prefix}-00008")
    assert described["thingTypeName"] == "WardlinkGateway"
    assert described["attributes"] == {"site_id": "site-1"}
    cert_arn = iot.list_thing_principals(thingName=f"{prefix}-00008")["principals"][0]
    assert [p["policyName"] for p in iot.list_attached_policies(target=cert_arn)["policies"]] == [
        local_cloud.environment()["GATEWAY_IOT_POLICY"]
    ]

    # fix: remove the stray thing, drop the bad lines, load the retry file
    iot.delete_thing(thingName=f"{prefix}-00042")
    retry = report / "retry.jsonl"
    assert len(retry.read_text().splitlines()) == 3
    retry.write_text(retry.read_text().splitlines()[0] + "\n")
    register = ["fleet", "gateways", "register", "--env-file", str(env)]
    assert main([*register, str(retry), "--poll", "0.05"]) == 0
    assert iot.describe_thing(thingName=f"{prefix}-00042")["thingTypeName"] == "WardlinkGateway"


def test_report_lines_are_read_in_either_key_case() -> None:
    """The report line schema is undocumented: lower camel (as the API) or capitalised."""
    pem = "-----BEGIN CERTIFICATE-----"
    lower = {"offset": 0, "response": {"certificatePem": pem, "resourceArns": {"thing": "a"}}}
    upper = {"offset": 0, "response": {"CertificatePem": pem, "ResourceArns": {"thing": "a"}}}
    expected = {"certificatePem": pem, "resourceArns": {"thing": "a"}}
    assert result_response(lower) == result_response(upper) == expected
    assert result_response({"offset": 3}) == {"certificatePem": None, "resourceArns": {}}
    assert error_message({"offset": 1, "errorCode": "E", "errorMessage": "m"}) == "E: m"
    assert error_message({"offset": 1, "ErrorMessage": "only a message"}) == "only a message"
    assert error_message({"offset": 1}) == "failed"


def test_one_registration_task_at_a_time_and_operators_only(
    local_cloud: LocalCloud, tmp_path: Path, unique: str
) -> None:
    iot = _iot(local_cloud)
    s3 = boto3.client(
        "s3", endpoint_url=local_cloud.aws_endpoint, region_name=local_cloud.region,
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    bucket = local_cloud.environment()["FLEET_BUCKET"]
    lines = [
        {"ThingName": g.thing_name, "SiteId": g.site_id, "CSR": g.csr_pem}
        for g in simulate(200, prefix=f"gw-{unique}")
    ]
    s3.put_object(Bucket=bucket, Key=f"t/{unique}.jsonl", Body="\n".join(map(json.dumps, lines)))
    from wardlink.fleet.gateways import template_body

    request = {
        "templateBody": template_body("WardlinkGateway", "wardlink-local-gateway"),
        "inputFileBucket": bucket,
        "inputFileKey": f"t/{unique}.jsonl",
        "roleArn": "arn:aws:iam::000000000000:role/r",
    }
    first = iot.start_thing_registration_task(**request)["taskId"]
    with pytest.raises(iot.exceptions.LimitExceededException):
        iot.start_thing_registration_task(**request)
    gateway_iot = _iot(local_cloud, local_cloud.gateway_credentials(f"gw-{unique}-00001"))
    with pytest.raises(Exception, match="AccessDenied"):
        gateway_iot.list_thing_registration_tasks()
    iot.stop_thing_registration_task(taskId=first)
    status = "InProgress"
    while status in ("InProgress", "Cancelling"):
        status = iot.describe_thing_registration_task(taskId=first)["status"]
    assert status == "Cancelled"


def _every_gateway_route(client: WardlinkApiClient, gateway: str) -> list[int]:
    """Status of one call on each gateway route (its own paths)."""
    calls = [
        (
            "POST",
            gateway_path(gateway),
            json.dumps({"gateway_id": gateway, "device_id": "d1", "model": "m"}).encode(),
        ),
        ("GET", gateway_path(gateway), b""),
        ("GET", gateway_path(gateway, "d1"), b""),
        ("POST", gateway_path(gateway, "d1", "uploads"), b'{"filename": "a.bin"}'),
        ("GET", sequence_path(gateway), b""),
    ]
    statuses = []
    for method, path, body in calls:
        try:
            status, _ = client.send(method, path, body)
        except ApiClientError as exc:
            status = exc.status or 0
        statuses.append(status)
    return statuses


def test_a_revoked_gateway_is_refused_on_every_route(
    local_cloud: LocalCloud, tmp_path: Path, unique: str
) -> None:
    name = f"rv-{unique}"
    env = _provision(local_cloud, tmp_path, name)
    thing = f"{name}-00000"
    client = client_for(local_cloud, local_cloud.gateway_credentials(thing))
    assert all(s < 300 for s in _every_gateway_route(client, thing))

    assert main(["fleet", "gateways", "revoke", "--env-file", str(env), thing]) == 0
    assert _every_gateway_route(client, thing) == [403] * 5
    with pytest.raises(Exception, match="revoked"):
        local_cloud.gateway_credentials(thing)
    code = main(["cloud", "credentials", "--env-file", str(env), "--gateway", thing])
    assert code == 1
    iot = _iot(local_cloud)
    cert = iot.list_thing_principals(thingName=thing)["principals"][0].rsplit("/", 1)[-1]
    assert (
        iot.describe_certificate(certificateId=cert)["certificateDescription"]["status"]
        == "INACTIVE"
    )
    groups = iot.list_thing_groups_for_thing(thingName=thing)["thingGroups"]
    assert [g["groupName"] for g in groups] == ["wardlink-quarantine"]


def test_rotation_keeps_the_gateway_connected_throughout(
    local_cloud: LocalCloud, tmp_path: Path, unique: str
) -> None:
    name = f"ro-{unique}"
    env = _provision(local_cloud, tmp_path, name)
    thing = f"{name}-00000"
    iot = _iot(local_cloud)
    (old_arn,) = iot.list_thing_principals(thingName=thing)["principals"]
    old = old_arn.rsplit("/", 1)[-1]
    client = client_for(local_cloud, local_cloud.gateway_credentials(thing))

    _, csr = make_csr(thing)
    (tmp_path / "new.csr").write_text(csr)
    cert_out = tmp_path / "new.pem"
    rotate = ["fleet", "gateways", "rotate", "--env-file", str(env), thing]
    assert (
        main([*rotate, "--csr", str(tmp_path / "new.csr"), "--certificate-out", str(cert_out)]) == 0
    )
    assert cert_out.read_text().startswith("-----BEGIN CERTIFICATE")
    assert all(s < 300 for s in _every_gateway_route(client, thing))  # both certificates active
    assert len(iot.list_thing_principals(thingName=thing)["principals"]) == 2

    retire = ["fleet", "gateways", "retire-certificate", "--env-file", str(env), thing]
    assert main([*retire, old]) == 0
    assert all(s < 300 for s in _every_gateway_route(client, thing))  # still: the new one is active
    fresh = client_for(local_cloud, local_cloud.gateway_credentials(thing))
    assert all(s < 300 for s in _every_gateway_route(fresh, thing))
    (new_arn,) = iot.list_thing_principals(thingName=thing)["principals"]
    assert (
        iot.describe_certificate(certificateId=old)["certificateDescription"]["status"]
        == "INACTIVE"
    )
    assert main([*retire, new_arn.rsplit("/", 1)[-1]]) == 1  # never the last active one


def test_gateways_expiring_within_a_window_are_listed_for_rotation(
    local_cloud: LocalCloud, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"ex-{unique}"
    env = _provision(local_cloud, tmp_path, name)  # the local CA signs for 365 days
    thing = f"{name}-00000"
    capsys.readouterr()

    def listed(days: str, *names: str) -> list[str]:
        command = ["fleet", "gateways", "expiring", "--env-file", str(env)]
        assert main([*command, "--within", days, *names]) == 0
        return [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]

    # named: the session's cloud holds every other test's gateways, each ~2 calls to scan
    assert listed("366", thing) == [thing] and listed("364", thing) == []
    iot = _iot(local_cloud)
    (found,) = expiring(iot, 366, names=[thing])
    assert found.days_left(datetime.now(UTC)) > 364
    assert main(["fleet", "gateways", "revoke", "--env-file", str(env), thing]) == 0
    capsys.readouterr()
    assert listed("366", thing) == []  # revoked: nothing to rotate


def test_certificates_are_associated_exclusively_with_their_thing() -> None:
    """The gateway IoT policy's thing variables resolve for ``thing#2`` client ids only
    with an exclusive association: provisioning re-attaches, rotation attaches so."""
    from wardlink.fleet.gateways import make_exclusive

    calls: list[tuple[str, dict[str, str]]] = []

    class Recorder:
        def __getattr__(self, name: str) -> object:
            return lambda **kwargs: calls.append((name, kwargs))

    cert = "arn:aws:iot:eu-west-1:1:cert/abc"
    make_exclusive(Recorder(), "gw-1", cert)
    assert calls == [
        ("detach_thing_principal", {"thingName": "gw-1", "principal": cert}),
        ("attach_thing_principal",
         {"thingName": "gw-1", "principal": cert, "thingPrincipalType": "EXCLUSIVE_THING"}),
    ]  # fmt: skip
