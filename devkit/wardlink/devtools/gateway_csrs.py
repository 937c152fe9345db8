"""Simulated gateways' keys and CSRs, generated centrally: for the dev kit and benchmarks only.

A real gateway makes its key pair where the key stays (a TPM or PKCS#11 token where
present) and hands out only its CSR; ``wardlink fleet gateways register`` takes those
CSRs. To provision hundreds of *simulated* gateways against the local cloud, this
module plays all of them at once: an ECDSA P-256 key and a CSR (subject CN = thing
name) per gateway, the keys written 0600 beside the gateways file, never sent anywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class SimulatedGateway:
    thing_name: str
    site_id: str
    key_pem: bytes
    csr_pem: str


def make_csr(thing_name: str, key: ec.EllipticCurvePrivateKey | None = None) -> tuple[bytes, str]:
    """(private key PEM, CSR PEM) for one simulated gateway."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing_name)]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


def simulate(count: int, prefix: str = "gw-sim", sites: int = 10) -> Iterator[SimulatedGateway]:
    for i in range(count):
        name = f"{prefix}-{i:05d}"
        key_pem, csr_pem = make_csr(name)
        yield SimulatedGateway(name, f"site-{i % max(1, sites)}", key_pem, csr_pem)


def write_gateways(gateways: Iterator[SimulatedGateway], out: Path) -> Path:
    """``out/gateways.jsonl`` (CSRs inline) and ``out/keys/<thing>.key`` (0600 in 0700)."""
    keys = out / "keys"
    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    spec = out / "gateways.jsonl"
    with spec.open("w") as handle:
        for gateway in gateways:
            fd = os.open(
                keys / f"{gateway.thing_name}.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
            )
            with os.fdopen(fd, "wb") as key_file:
                key_file.write(gateway.key_pem)
            line = {
                "thing_name": gateway.thing_name,
                "site_id": gateway.site_id,
                "csr": gateway.csr_pem,
            }
            handle.write(json.dumps(line) + "\n")
    return spec
