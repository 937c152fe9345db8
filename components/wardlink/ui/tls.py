"""The UI's TLS certificate: the site's own, or a per-gateway self-signed one.

The UI is HTTPS only (45 CFR 164.312(e), transmission security). A site that
has a certificate supplies it (a file or a Greengrass secret written to a file);
otherwise the first start makes a P-256 key and a self-signed certificate for
the gateway's name and listening address, kept 0600 in the UI's state directory
and reused, so a technician's browser can pin it after the first visit.

``cryptography`` costs the long-running UI about 8 MB of its 50 MB budget for
work done once, so the component makes or reads the certificate in a short-lived
child (``certificate_in_child``: ``python -m wardlink.ui.tls``) and imports
nothing of ``cryptography`` itself; the functions here import it when called.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

VALIDITY_DAYS = 825


@dataclass(frozen=True)
class ServerCertificate:
    cert_file: Path
    key_file: Path

    def not_after(self) -> dt.datetime:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        return cert.not_valid_after_utc


def _names(common_name: str, host: str) -> list[x509.GeneralName]:
    from cryptography import x509

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
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

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


def certificate_in_child(
    state_dir: Path,
    common_name: str,
    host: str = "127.0.0.1",
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> tuple[ServerCertificate, dt.datetime]:
    """``ensure_certificate`` and its expiry, done in a child process; raises if it fails."""
    argv = [sys.executable, "-m", "wardlink.ui.tls", str(state_dir), common_name, host]
    if cert_file is not None:
        argv += ["--cert-file", str(cert_file)]
    if key_file is not None:
        argv += ["--key-file", str(key_file)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"no TLS certificate for the UI: {done.stderr.strip()[-500:]}")
    answer = json.loads(done.stdout)
    certificate = ServerCertificate(Path(answer["cert_file"]), Path(answer["key_file"]))
    return certificate, dt.datetime.fromisoformat(answer["not_after"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wardlink.ui.tls")
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("common_name")
    parser.add_argument("host")
    parser.add_argument("--cert-file", type=Path)
    parser.add_argument("--key-file", type=Path)
    args = parser.parse_args(argv)
    try:
        certificate = ensure_certificate(
            args.state_dir, args.common_name, args.host, args.cert_file, args.key_file
        )
        not_after = certificate.not_after()
    except (OSError, ValueError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    answer = {
        "cert_file": str(certificate.cert_file),
        "key_file": str(certificate.key_file),
        "not_after": not_after.isoformat(),
    }
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
