"""PHI redaction: the only code allowed to turn raw data into outbound data.

Public surface (see docs/phi-policy.md):

* ``RedactionPolicy`` - ``RedactionPolicy()`` (fail closed, no dependencies),
  ``.default()``, ``.from_file(path)``, ``.from_config(mapping)``; the pipeline calls
  ``redact_observations`` / ``redact_status``; documents go through ``redact_json``,
  ``redact_hl7``, ``redact_text`` and ``redact(format, payload)``.
* ``Scrubber`` - the free-text scrubber (``scrub(text, known=())``).
* ``SecretSource``, ``FileSecretSource``, ``GreengrassSecretSource`` - pseudonym keys.
* ``TokenVault`` - the on-premises pseudonym vault.
* ``install_log_filter`` - keeps PHI out of every log record (``wardlink.phi.logfilter``).
"""

from wardlink.phi.config import PolicyConfig, PolicyError
from wardlink.phi.keys import FileSecretSource, GreengrassSecretSource, SecretError, SecretSource
from wardlink.phi.logfilter import install_log_filter
from wardlink.phi.policy import DropAllText, RedactionPolicy, TextScrubber
from wardlink.phi.result import RedactionResult
from wardlink.phi.scrubber import Scrubber
from wardlink.phi.vault import TokenVault, VaultError

__all__ = [
    "DropAllText",
    "FileSecretSource",
    "GreengrassSecretSource",
    "PolicyConfig",
    "PolicyError",
    "RedactionPolicy",
    "RedactionResult",
    "Scrubber",
    "SecretError",
    "SecretSource",
    "TextScrubber",
    "TokenVault",
    "VaultError",
    "install_log_filter",
]
