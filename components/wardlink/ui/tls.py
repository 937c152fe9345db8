"""The UI's TLS certificate: the site's own, or a per-gateway self-signed one.

The UI is HTTPS only (45 CFR 164.312(e), transmission security). A site that
has a certificate supplies it (a file or a Greengrass secret written to a file);
otherwise the first start makes a P-256 key and a self-signed certificate for
the gateway's name and listening address, kept 0600 in the UI's state directory
and reused, so a technician's browser can pin it after the first visit.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALIDITY_DAYS = 825


@dataclass(frozen=True)
class ServerCertificate:
    cert_file: Path
    key_file: Path

    def not_after(self) -> dt.datetime:
        cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        return cert.not_valid_after_utc


def _names(common_name: str, host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(common_name)]
    for address in {"127.0.0.1", "::1", host}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    return names


def ensure_certificate(
    state_dir: Path,
    common_name: str,
    host: str = "127.0.0.1",
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> ServerCertificate:
    """The supplied certificate, or the self-signed one in ``state_dir`` (made if absent)."""
    if cert_file is not None or key_file is not None:
        if cert_file is None or key_file is None:
            raise ValueError("ui.certFile and ui.keyFile go together")
        return ServerCertificate(cert_file, key_file)
    tls_dir = state_dir / "tls"
    cert_path, key_path = tls_dir / "ui-cert.pem", tls_dir / "ui-key.pem"
    if cert_path.exists() and key_path.exists():
        return ServerCertificate(cert_path, key_path)
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(common_name, host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ServerCertificate(cert_path, key_path)
