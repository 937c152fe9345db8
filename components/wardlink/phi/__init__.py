"""PHI redaction: the only code allowed to turn raw data into outbound data."""

from wardlink.phi.policy import RedactionPolicy

__all__ = ["RedactionPolicy"]
