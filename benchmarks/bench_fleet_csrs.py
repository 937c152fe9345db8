"""10,000 simulated gateways: CSRs and the bulk registration spec, beside CSR generation alone.

The issue asks 10,000 simulated gateways' CSRs and spec to be generated in at most
5 s. Measured: the dev kit's ECDSA P-256 key and CSR per gateway
(``wardlink.devtools.gateway_csrs.simulate``), each CSR checked as
``wardlink fleet gateways register`` checks it (``GatewayRequest``: P-256, signature),
and the JSONL spec built (``spec_jsonl``) with the template. Baseline in the same run:
the same number of bare key + CSR generations with ``cryptography`` and nothing else.

    .venv/bin/python benchmarks/bench_fleet_csrs.py [--gateways 10000]
"""

from __future__ import annotations

import argparse
import json
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wardlink.devtools.gateway_csrs import simulate
from wardlink.fleet.gateways import GatewayRequest, spec_jsonl, template_body


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateways", type=int, default=10_000)
    args = parser.parse_args()

    started = time.perf_counter()
    for i in range(args.gateways):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"gw-{i}")])
        x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    bare_s = time.perf_counter() - started

    started = time.perf_counter()
    requests = [
        GatewayRequest(thing_name=g.thing_name, site_id=g.site_id, csr=g.csr_pem)
        for g in simulate(args.gateways)
    ]
    spec = spec_jsonl(requests)
    template = template_body("WardlinkGateway", "wardlink-gateway")
    spec_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "gateways": args.gateways,
                "baseline_bare_key_and_csr_s": round(bare_s, 3),
                "csrs_checked_and_spec_s": round(spec_s, 3),
                "spec_bytes": len(spec),
                "template_chars": len(template),
                "target_s": 5.0,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
