"""The log filter, run in a child interpreter: it installs process-wide hooks."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_record_is_scrubbed_whoever_logs_it() -> None:
    result = _run(
        """
        import io, logging, sys
        from wardlink.phi.logfilter import install_log_filter

        root_stream, own_stream = io.StringIO(), io.StringIO()
        root = logging.getLogger()
        handler = logging.StreamHandler(root_stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(patient)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        install_log_filter()
        install_log_filter()  # idempotent

        log = logging.getLogger("wardlink.device")
        log.info("pt %s MRN %s on %s", "Jane Doe", "0012345", "Nonin 9560",
                 extra={"patient": {"name": "Jane Doe", "phone": "555-123-4567"}})
        try:
            raise ValueError("cannot parse DOB 07/04/1962 for Zorblax, Quinn")
        except ValueError:
            log.exception("decode failed", extra={"patient": "n/a"})

        # a logger with its own handler, added after install, reached by the factory
        lonely = logging.getLogger("other")
        lonely.propagate = False
        own = logging.StreamHandler(own_stream)
        own.setFormatter(logging.Formatter("%(message)s %(who)s"))
        lonely.addHandler(own)
        lonely.warning("call Jane Doe at (555) 123-4567", extra={"who": "Jane Doe"})
        install_log_filter()  # picks up the new handler too
        lonely.warning("email jane@example.com", extra={"who": "wife Ada Zorblax"})
        print(root_stream.getvalue())
        print("---")
        print(own_stream.getvalue())
        """
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for value in ("Jane", "Doe", "0012345", "555-123-4567", "07/04/1962", "Zorblax", "Quinn",
                  "jane@example.com", "Ada"):  # fmt: skip
        assert value not in out, value
    assert "Nonin 9560" in out
    assert "[NAME]" in out and "[PHONE]" in out and "[EMAIL]" in out
    assert "Traceback" in out and "ValueError" in out  # the exception keeps its shape


def test_uncaught_exceptions_are_scrubbed_on_stderr() -> None:
    result = _run(
        """
        from wardlink.phi.logfilter import install_log_filter
        install_log_filter()
        raise RuntimeError("patient Jane Doe, SSN 123-45-6789, failed")
        """
    )
    assert result.returncode != 0
    assert "RuntimeError" in result.stderr
    assert "Jane" not in result.stderr and "123-45-6789" not in result.stderr


def test_the_runtime_logging_setup_installs_the_filter() -> None:
    result = _run(
        """
        import io, logging
        from wardlink.runtime.logs import configure_logging
        stream = io.StringIO()
        configure_logging("com.wardlink.Test", stream=stream)
        logging.getLogger("x").info("Jane Doe connected", extra={"mrn": "MRN 0012345"})
        print(stream.getvalue())
        """
    )
    assert result.returncode == 0, result.stderr
    assert "Jane" not in result.stdout and "0012345" not in result.stdout
