"""Wardlink's AWS infrastructure as a CDK v2 (Python) app.

One stack, built from small constructs with one job each (keys, tables, ingest,
gateway identity, telemetry store, detector engine, API, audit, monitoring). The
public entry point is :func:`wardlink_infra.application.build_app`, used by
``cloud/app.py`` and by the template tests, so both synthesize exactly the same
thing.
"""

from wardlink_infra.application import SynthesizedApp, build_app

__all__ = ["SynthesizedApp", "build_app"]
