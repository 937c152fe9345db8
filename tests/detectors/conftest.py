"""Fixtures shared by the detector tests."""

from __future__ import annotations

import pytest

from wardlink.detectors.validation import ShapeValidator, load_iotevents_service


@pytest.fixture(scope="session")
def iotevents_shapes() -> ShapeValidator:
    """The CreateDetectorModel/CreateInput request shapes from an older botocore (cached)."""
    return ShapeValidator(load_iotevents_service())
