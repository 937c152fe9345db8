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

The names are resolved on first use (PEP 562): every component installs the log
filter, but only the DeviceProxy needs the policy, its YAML configuration and the
HL7 redactor, so importing the package must not load them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for type checkers (``X as X`` re-exports them)
    from wardlink.phi.config import PolicyConfig as PolicyConfig
    from wardlink.phi.config import PolicyError as PolicyError
    from wardlink.phi.keys import FileSecretSource as FileSecretSource
    from wardlink.phi.keys import GreengrassSecretSource as GreengrassSecretSource
    from wardlink.phi.keys import SecretError as SecretError
    from wardlink.phi.keys import SecretSource as SecretSource
    from wardlink.phi.logfilter import install_log_filter as install_log_filter
    from wardlink.phi.policy import DropAllText as DropAllText
    from wardlink.phi.policy import RedactionPolicy as RedactionPolicy
    from wardlink.phi.policy import TextScrubber as TextScrubber
    from wardlink.phi.result import RedactionResult as RedactionResult
    from wardlink.phi.scrubber import Scrubber as Scrubber
    from wardlink.phi.vault import TokenVault as TokenVault
    from wardlink.phi.vault import VaultError as VaultError

#: Each public name and the module of this package that defines it.
_EXPORTS = {
    "DropAllText": "policy",
    "FileSecretSource": "keys",
    "GreengrassSecretSource": "keys",
    "PolicyConfig": "config",
    "PolicyError": "config",
    "RedactionPolicy": "policy",
    "RedactionResult": "result",
    "Scrubber": "scrubber",
    "SecretError": "keys",
    "SecretSource": "keys",
    "TextScrubber": "policy",
    "TokenVault": "vault",
    "VaultError": "vault",
    "install_log_filter": "logfilter",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
