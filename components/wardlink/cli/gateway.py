"""``wardlink gateway csr``: the gateway makes its own key and certificate signing request.

Fleet provisioning (``wardlink fleet gateways register``) and certificate rotation
(``wardlink fleet gateways rotate``) take a CSR from each gateway, so that a gateway's
private key is made where it will live and never travels: the operator receives only
the CSR (a public key and the thing name, signed by the key).

    wardlink gateway csr --thing-name NAME --key-out FILE --csr-out FILE
    wardlink gateway csr --thing-name NAME --pkcs11-uri URI --csr-out FILE

With ``--key-out``, an ECDSA P-256 key is generated here and written as an unencrypted
PKCS#8 PEM file created with mode 0600 (owner only; an existing file is never
overwritten, since it may be the key the gateway uses now). The CSR's subject CN is
the thing name, signed with SHA-256.

With ``--pkcs11-uri`` (a TPM or HSM, e.g. through tpm2-pkcs11), the key must stay in
the token, and the ``cryptography`` package cannot sign with a token's key: this
command then makes nothing and prints the OpenSSL 3 command that does (through the
token's OpenSSL provider). That is the path for hardware that has a token.

Only the edge's own dependencies are used (``cryptography``, imported inside the
handler); ``wardlink run`` never loads this module.

Exit status: 0 written; 2 bad usage or the key file exists; 3 PKCS#11 (see above).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_USE_OPENSSL = 3
#: Thing names IoT accepts (and gateway ids are a subset of).
_THING_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")


def register(subparsers: Any) -> Any:
    parser = subparsers.add_parser("gateway", help="this gateway's identity (key and CSR)")
    actions = parser.add_subparsers(dest="gateway_command", metavar="ACTION")
    csr = actions.add_parser(
        "csr", help="make an ECDSA P-256 key and a CSR for the gateway's certificate"
    )
    csr.add_argument("--thing-name", required=True, help="the gateway's thing name (CSR CN)")
    where = csr.add_mutually_exclusive_group(required=True)
    where.add_argument("--key-out", type=Path, metavar="FILE",
                       help="new private key file (created 0600, never overwritten)")
    where.add_argument("--pkcs11-uri", metavar="URI",
                       help="key in a TPM/HSM token (prints the OpenSSL command to use)")
    csr.add_argument("--csr-out", type=Path, required=True, metavar="FILE")
    csr.set_defaults(func=_csr)

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return EXIT_USAGE

    parser.set_defaults(func=usage)
    return actions


def _csr(args: argparse.Namespace) -> int:
    if not _THING_NAME.match(args.thing_name):
        print(f"wardlink gateway csr: {args.thing_name!r} is not a thing name", file=sys.stderr)
        return EXIT_USAGE
    if args.pkcs11_uri:
        return _pkcs11(args)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        _write_private(args.key_out, pem)
    except FileExistsError:
        print(
            f"wardlink gateway csr: {args.key_out} exists; choose a new file (it may be the "
            "key in use)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except OSError as exc:
        print(f"wardlink gateway csr: cannot write {args.key_out}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, args.thing_name)]))
        .sign(key, hashes.SHA256())
    )
    args.csr_out.write_bytes(request.public_bytes(serialization.Encoding.PEM))
    print(f"key: {args.key_out} (0600, stays on this gateway)")
    print(f"csr: {args.csr_out} (give this to the operator)")
    return EXIT_OK


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` owner-only and write ``data``; fail if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _pkcs11(args: argparse.Namespace) -> int:
    subject = f"/CN={args.thing_name}"
    command = (
        f"openssl req -new -provider pkcs11 -provider default -key {shlex.quote(args.pkcs11_uri)} "
        f"-sha256 -subj {shlex.quote(subject)} -out {shlex.quote(str(args.csr_out))}"
    )
    print(
        "wardlink gateway csr: the key stays in the token, and this tool's crypto library "
        "(cryptography) cannot sign with a PKCS#11 key. Make an EC P-256 key in the token "
        "(e.g. pkcs11-tool --keypairgen --key-type EC:prime256v1) and the CSR with OpenSSL 3 "
        "and the token's provider (pkcs11-provider, or tpm2-openssl with -provider tpm2):",
        file=sys.stderr,
    )
    print(command)
    return EXIT_USE_OPENSSL
