"""Keep PHI out of logs: Greengrass captures stderr, and LogManager ships it to CloudWatch.

``install_log_filter()`` (idempotent; call it after configuring handlers, and again
after adding handlers later) makes every log record pass through the text scrubber
before any handler formats it:

* a log-record factory scrubs the message, its arguments, the exception text and
  the stack text as the record is created - whichever logger made it and whichever
  handler ends up writing it;
* ``extra={...}`` fields are set on a record after the factory returns, so the
  factory gives each record an attribute dict that scrubs values as they are set;
* a ``PHILogFilter`` on every existing handler (root and named loggers, and
  ``logging.lastResort``) scrubs again as a second line of defence, for records
  built by other means (``logging.makeLogRecord``);
* uncaught exceptions (``sys.excepthook``, ``threading.excepthook``) and
  ``warnings`` go through logging or the scrubber instead of raw stderr.

Exceptions keep their traceback shape but their text is scrubbed: the record's
``exc_info`` is replaced by a ``ScrubbedTraceback`` whose message is the scrubbed
formatted traceback, and ``exc_text`` holds the same text.

If scrubbing itself fails, the text is withheld, never written raw (fail closed).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

WITHHELD = "[log text withheld: scrubber failed]"
_MARK = "_wardlink_phi_scrubbed"
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_MAX_DEPTH = 6


class _Scrubs(Protocol):
    def scrub(self, text: str, known: Sequence[str] = ()) -> str: ...


class ScrubbedTraceback(Exception):
    """Stands in for a logged exception; its message is the scrubbed traceback text."""


_state_lock = threading.Lock()
_scrubber: _Scrubs | None = None
_installed = False


def _get_scrubber() -> _Scrubs | None:
    global _scrubber
    if _scrubber is None:
        try:
            from wardlink.phi.scrubber import Scrubber

            _scrubber = Scrubber()
        except Exception:  # the lexicon is missing: withhold rather than leak
            return None
    return _scrubber


def scrub_text(text: str) -> str:
    scrubber = _get_scrubber()
    if scrubber is None:
        return WITHHELD
    try:
        return scrubber.scrub(text)
    except Exception:
        return WITHHELD


def scrub_value(value: Any, depth: int = 0) -> Any:
    """Scrub strings inside ``extra`` values, keeping numbers, booleans and shapes."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if depth >= _MAX_DEPTH:
        return WITHHELD
    if isinstance(value, Mapping):
        return {scrub_text(str(k)): scrub_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub_value(v, depth + 1) for v in value]
    return scrub_text(str(value))


def scrub_record(record: logging.LogRecord) -> None:
    """Scrub a record in place (message, args, exception, stack, extras). Idempotent."""
    if getattr(record, _MARK, False):
        return
    try:
        message = record.getMessage()
    except Exception:
        message = f"{record.msg!s} {record.args!r}"
    record.msg = scrub_text(message)
    record.args = None
    if record.exc_info and record.exc_info[0] is not ScrubbedTraceback:
        text = scrub_text("".join(traceback.format_exception(*record.exc_info)).rstrip())
        record.exc_info = (ScrubbedTraceback, ScrubbedTraceback(text), None)
        record.exc_text = text
    elif record.exc_text and not record.exc_info:
        record.exc_text = scrub_text(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub_text(record.stack_info)
    for key, value in list(vars(record).items()):
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            record.__dict__[key] = scrub_value(value)
    record.__dict__[_MARK] = True


class PHILogFilter(logging.Filter):
    """A handler filter that scrubs each record and never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            scrub_record(record)
        except Exception:
            record.msg, record.args, record.exc_info, record.exc_text = WITHHELD, None, None, None
        return True


class _ScrubbingDict(dict[str, Any]):
    """A record's attribute dict that scrubs ``extra`` values as ``makeRecord`` sets them."""

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            value = scrub_value(value)
        super().__setitem__(key, value)


def _wrap_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            scrub_record(record)
            record.__dict__ = _ScrubbingDict(record.__dict__)  # extras arrive after this
        except Exception:
            record.msg, record.args, record.exc_info = WITHHELD, None, None
        return record

    factory.__dict__[_MARK] = True
    return factory


def _add_filter(handler: logging.Handler) -> None:
    if not any(isinstance(f, PHILogFilter) for f in handler.filters):
        handler.addFilter(PHILogFilter())


def _all_handlers() -> list[logging.Handler]:
    handlers = list(logging.getLogger().handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            handlers.extend(logger.handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    return handlers


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    text = scrub_text("".join(traceback.format_exception(kind, value, tb)))
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(f"Exception in thread {name}:\n{scrub_text(text)}\n")


def install_log_filter(scrubber: _Scrubs | None = None) -> None:
    """Scrub every log record from now on. Safe to call any number of times."""
    global _installed, _scrubber
    with _state_lock:
        if scrubber is not None:
            _scrubber = scrubber
        for handler in _all_handlers():
            _add_filter(handler)
        if _installed:
            return
        current = logging.getLogRecordFactory()
        if not current.__dict__.get(_MARK, False):
            logging.setLogRecordFactory(_wrap_factory(current))
        sys.excepthook = _excepthook
        threading.excepthook = _thread_excepthook
        logging.captureWarnings(True)
        _installed = True
