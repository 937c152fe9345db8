"""Exceptions shared across layers."""


class WardlinkError(Exception):
    """Base class for every error Wardlink raises on purpose."""


class PHIBoundaryError(WardlinkError):
    """Raw PHI tried to cross a boundary, or an outbound type was built outside the policy.

    This is a programming error, never a data error: it means some code path tried to
    serialize patient context or forge a redacted type. It must fail loudly.
    """


class RedactionError(WardlinkError):
    """The policy could not redact an item, so the item must not leave (fail closed)."""
