"""Keep PHI out of logs: Greengrass captures stderr, and LogManager ships it to CloudWatch.

``install_log_filter()`` (idempotent; call it after configuring handlers, and again
after adding handlers later) makes every log record pass through ``scrub_text``
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

``scrub_text`` does four things, in this order:

1. **Raw-data loggers.** Third-party libraries on the device path log what they
   handle: python-hl7 a whole raw field at ERROR when it meets a bad escape
   sequence, bleak characteristic values, asyncio the arguments of a failed
   callback. A record from one of ``RAW_DATA_LOGGERS`` keeps its format string and
   its numbers; its string and bytes arguments, quoted literals in a pre-formatted
   message and its exception message are withheld (``<str, 17 chars>``). (The codecs
   also keep such libraries from logging at all: see ``codecs._hl7_pcd01``.)
2. **Live patient values.** The scrubber's lexicon cannot know every surname
   ("Oyelaran-Quist") nor a bed ("CCU^353^B"). The patient contexts this process
   holds can: ``PatientContext`` registers its values in ``LIVE_PATIENTS``, and
   every one of them is replaced by ``[PHI]`` wherever it appears, in any case, its
   parts joined by any punctuation (HL7 ``^``, an escape, a space); values of four
   characters or more also inside other tokens, shorter ones as whole tokens only.
3. **Operational tokens stay readable.** The scrubber is tuned for clinical notes,
   where ``/dev`` looks like a word, ``serial:nonin-2`` like a serial number and a
   broker's address like a patient's IP. Device paths, codec names, broker URLs
   and hosts (``KEEP_RULES``, and terms given to ``keep_readable``) are set aside
   before the scrubber runs and put back after, so a technician can read them.
   Patient values were removed in step 2, so setting these aside hides nothing
   the process knows to be PHI.
4. **The scrubber** (``phi.scrubber``), with the live values as known values.

Exceptions keep their traceback shape but their text is scrubbed: the record's
``exc_info`` is replaced by a ``ScrubbedTraceback`` whose message is the scrubbed
formatted traceback, and ``exc_text`` holds the same text.

If scrubbing itself fails, the text is withheld, never written raw (fail closed).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from wardlink.model.live_patients import live_patient_values

__all__ = [
    "KEEP_RULES",
    "LIVE_PLACEHOLDER",
    "OPERATIONAL_KEYS",
    "RAW_DATA_LOGGERS",
    "WITHHELD",
    "KeepRule",
    "PHILogFilter",
    "RawDataLogger",
    "ScrubbedTraceback",
    "install_log_filter",
    "keep_readable",
    "raw_data_logger",
    "remove_live_values",
    "scrub_record",
    "scrub_text",
    "scrub_value",
    "scrubbed_logs",
]

WITHHELD = "[log text withheld: scrubber failed]"
#: What a value of a live patient context becomes.
LIVE_PLACEHOLDER = "[PHI]"
#: Live values at least this long are removed inside other tokens too.
INSIDE_TOKENS_MIN = 4
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


# -- 1. raw-data loggers ----------------------------------------------------------


@dataclass(frozen=True)
class RawDataLogger:
    """A third-party logger on the device path, and what it would otherwise print."""

    name: str  # the logger's name, covering its children ("bleak" -> "bleak.backends...")
    reason: str


RAW_DATA_LOGGERS: tuple[RawDataLogger, ...] = (
    RawDataLogger(
        "hl7",
        "python-hl7 logs the whole raw field at ERROR on a bad escape sequence; its "
        "loggers are named after its source files (.../hl7/util.py)",
    ),
    RawDataLogger("bleak", "characteristic values, advertising data and device names at DEBUG"),
    RawDataLogger("dbus_fast", "the D-Bus messages under bleak: values, names, addresses"),
    RawDataLogger("pySerial", "pyserial's socket://, loop:// and rfc2217:// handlers log bytes"),
    RawDataLogger(
        "asyncio",
        "the loop's exception handler and debug mode print callbacks and tasks with "
        "their arguments, such as the bytes given to data_received",
    ),
    RawDataLogger("awsiot", "the Greengrass IPC client logs message payloads at DEBUG"),
    RawDataLogger("awscrt", "the CRT's Python log bridge carries native log text"),
)

_raw_rules: dict[str, RawDataLogger | None] = {}


def raw_data_logger(name: str) -> RawDataLogger | None:
    """The ``RAW_DATA_LOGGERS`` entry a logger name falls under, if any."""
    if name in _raw_rules:
        return _raw_rules[name]
    found = None
    for rule in RAW_DATA_LOGGERS:
        path_form = re.search(rf"[/\\]{re.escape(rule.name)}[/\\][^/\\]+\.py[co]?$", name)
        if name == rule.name or name.startswith(rule.name + ".") or path_form:
            found = rule
            break
    if len(_raw_rules) < 4096:
        _raw_rules[name] = found
    return found


class _Withheld:
    """Stands in for a withheld argument: says what it was, never what it held."""

    __slots__ = ("text",)

    def __init__(self, value: object) -> None:
        if isinstance(value, str):
            self.text = f"<str, {len(value)} chars>"
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self.text = f"<{type(value).__name__}, {len(value)} bytes>"
        else:
            self.text = f"<{type(value).__name__}>"

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return self.text


# A quoted literal in a pre-formatted message: 'x', b'\x0b...', bytearray(b"...").
_QUOTED_RE = re.compile(
    r"""(?:bytearray\(|memoryview\()?[bBrRuU]{0,2}(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")\)?"""
)


def _withheld_arg(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _Withheld(value)


def _exception_shape(exc_info: Any) -> str:
    """The traceback's frames (our code and the library's) and the exception's type."""
    kind, _value, tb = exc_info
    frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    head = "Traceback (most recent call last):\n" if frames else ""
    return f"{head}{frames}{getattr(kind, '__qualname__', 'Exception')}: <message withheld>"


def _withhold_raw(record: logging.LogRecord) -> None:
    args = record.args
    if isinstance(args, Mapping):
        record.args = {k: _withheld_arg(v) for k, v in args.items()}
    elif args:
        record.args = tuple(_withheld_arg(a) for a in args)
    if not isinstance(record.msg, str):
        record.msg = str(_Withheld(record.msg))
    elif not args:
        record.msg = _QUOTED_RE.sub("<withheld>", record.msg)


# -- 2. live patient values -------------------------------------------------------

_PART_RE = re.compile(r"[^\W_]+")
# Between two parts of a value: HL7 separators and escapes ("\T\"), spaces, or nothing.
_JOIN = r"[\W_]{0,6}"
_live_lock = threading.Lock()
_live_cache: tuple[tuple[str, ...], re.Pattern[str] | None] = ((), None)


def _value_pattern(value: str) -> str | None:
    """One live value as a regex: its letter and digit runs, any punctuation between."""
    parts = _PART_RE.findall(value)
    if not parts:
        return None
    body = _JOIN.join(re.escape(part) for part in parts)
    if len(value.strip()) >= INSIDE_TOKENS_MIN:
        return body
    return rf"(?<![^\W_]){body}(?![^\W_])"


def _live_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    """All live values as one regex, compiled again only when the registry changes."""
    global _live_cache
    cached_values, pattern = _live_cache
    if values is cached_values:
        return pattern
    alternatives = [p for p in map(_value_pattern, values) if p]  # longest values first
    pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None
    with _live_lock:
        _live_cache = (values, pattern)
    return pattern


def remove_live_values(text: str, values: Sequence[str] | None = None) -> str:
    """``text`` with every value of the live patient contexts replaced by ``[PHI]``."""
    if not text:
        return text
    if values is None:
        values = live_patient_values()
    pattern = _live_pattern(values if isinstance(values, tuple) else tuple(values))
    return text if pattern is None else pattern.sub(LIVE_PLACEHOLDER, text)


# -- 3. operational tokens kept readable ----------------------------------------------


@dataclass(frozen=True)
class KeepRule:
    """A kind of operational token that stays readable in logs, and why it is not PHI."""

    name: str
    pattern: re.Pattern[str]
    reason: str
    group: int = 0  # the part of the match to keep (a cue word before it is not kept)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_LOWER_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_IPV6_LITERAL = r"\[[0-9A-Fa-f:.]+\]"
_ANY_HOST = rf"(?:{_IPV4}|{_IPV6_LITERAL}|{_LABEL}(?:\.{_LABEL})*)"
_DOTTED_HOST = rf"(?:{_IPV4}|{_IPV6_LITERAL}|localhost|{_LOWER_LABEL}(?:\.{_LOWER_LABEL})+)"
_PORT = r"(?::\d{1,5})?"
_END = r"(?![\w.@-])"

KEEP_RULES: tuple[KeepRule, ...] = (
    KeepRule(
        "device path",
        re.compile(r"(?<![\w/.-])/dev/[\w.+:@=-]+(?:/[\w.+:@=-]+)*"),
        "device nodes (/dev/ttyUSB7, /dev/serial/by-id/...) are named by the kernel and "
        "udev after the adapter and its port, never after a person",
    ),
    KeepRule(
        "broker URL",
        re.compile(
            rf"(?i:(?<![\w.+-])(?:mqtts?|ssl|tls|wss?|tcp)://)(?![^\s/]*@)"
            rf"{_ANY_HOST}{_PORT}(?:/[\w.~%/-]*)?{_END}"
        ),
        "MQTT and socket endpoints come from the site configuration; a URL with user "
        "information is not kept, nor web (http) addresses",
    ),
    KeepRule(
        "MQTT host and port",
        re.compile(rf"(?<![\w.:/-]){_ANY_HOST}:(?:1883|8883){_END}"),
        "a host with an MQTT port (IANA 1883, 8883) is a broker",
    ),
    KeepRule(
        "AWS endpoint",
        re.compile(
            rf"(?i:(?<![\w.-]){_LABEL}(?:\.{_LABEL})*\.amazonaws\.com(?:\.cn)?){_PORT}{_END}"
        ),
        "hosts in AWS's own domain (IoT Core data and credential endpoints)",
    ),
    KeepRule(
        "host after a cue",
        re.compile(
            rf"(?i:\b(?:broker|endpoint|host)\b)[ \t]*[:=]?[ \t]*({_DOTTED_HOST}{_PORT}){_END}"
        ),
        "an address right after 'broker', 'endpoint' or 'host' is where we connect",
        group=1,
    ),
    KeepRule(
        "local address",
        re.compile(r"(?<![\w.:])(?:0\.0\.0\.0|127(?:\.\d{1,3}){3}|\[::1?\])(?::\d{1,5})?(?![\w.])"),
        "loopback and the unspecified address name this machine, nobody else",
    ),
)

#: ``extra={...}`` keys whose values are endpoints the code itself set (a listen
#: address, a TCP peer, a serial port's path): kept whole when the value has an
#: endpoint's shape - an IP address, a dotted host name, a name with a port, a URL
#: without user information, an absolute path. A single word is never kept.
OPERATIONAL_KEYS: frozenset[str] = frozenset(
    {"address", "broker", "endpoint", "host", "peer", "port"}
)
_ENDPOINT_VALUE_RE = re.compile(
    rf"(?:(?i:[a-z][a-z0-9+.-]*)://)?"
    rf"(?:(?:{_IPV4}|{_IPV6_LITERAL}|localhost|{_LABEL}(?:\.{_LABEL})+){_PORT}|{_LABEL}:\d{{1,5}})"
    r"(?:/[\w.~%/-]*)?"
    r"|/[\w.+:@=-]+(?:/[\w.+:@=-]+)*"
)

_keep_terms: set[str] = set()
_keep_terms_re: re.Pattern[str] | None = None
# Set-aside tokens become private-use characters, which the scrubber reads as punctuation.
_SENTINEL_BASE = 0xE000
_SENTINEL_MAX = 0x1800
_SENTINEL_RE = re.compile("[\ue000-\uf7ff]")


def keep_readable(*terms: str) -> None:
    """Keep these exact operational terms readable in logs (codec names, a configured port).

    Only for values the code or the site configuration chose, never for data read
    from a device. Terms shorter than three characters are ignored.
    """
    global _keep_terms_re
    fresh = {t for t in terms if len(t) >= 3} - _keep_terms
    if not fresh:
        return
    with _state_lock:
        _keep_terms.update(fresh)
        ordered = sorted(_keep_terms, key=len, reverse=True)
        _keep_terms_re = re.compile(
            r"(?<![\w-])(?:" + "|".join(map(re.escape, ordered)) + r")(?![\w-])"
        )


def _kept_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for rule in KEEP_RULES:
        spans.extend(m.span(rule.group) for m in rule.pattern.finditer(text))
    terms = _keep_terms_re
    if terms is not None:
        spans.extend(m.span() for m in terms.finditer(text))
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
            continue
        merged.append((start, end))
    return merged[:_SENTINEL_MAX]


def _set_aside(text: str) -> tuple[str, dict[int, str]]:
    """``text`` with each kept token replaced by one private-use character, and the map back."""
    if _SENTINEL_RE.search(text):
        text = _SENTINEL_RE.sub("\ufffd", text)  # a device cannot forge a kept token
    spans = _kept_spans(text)
    if not spans:
        return text, {}
    kept: dict[int, str] = {}
    out: list[str] = []
    position = 0
    for index, (start, end) in enumerate(spans):
        sentinel = _SENTINEL_BASE + index
        kept[sentinel] = text[start:end]
        out.append(text[position:start])
        out.append(chr(sentinel))
        position = end
    out.append(text[position:])
    return "".join(out), kept


# -- the pipeline -------------------------------------------------------------------


def scrub_text(text: str, *, operational: bool = False) -> str:
    """``text`` without PHI: live patient values, then the scrubber (steps 2 to 4).

    ``operational`` says the whole text is a value the code set under an
    operational key (``OPERATIONAL_KEYS``): an endpoint-shaped one is then kept whole.
    """
    if not text:
        return text
    scrubber = _get_scrubber()
    if scrubber is None:
        return WITHHELD
    try:
        live = live_patient_values()
        text = remove_live_values(text, live)
        if operational and _ENDPOINT_VALUE_RE.fullmatch(text):
            return text
        masked, kept = _set_aside(text)
        scrubbed = scrubber.scrub(masked, live)
        return scrubbed.translate(kept) if kept else scrubbed
    except Exception:
        return WITHHELD


def scrub_value(value: Any, depth: int = 0, key: str | None = None) -> Any:
    """Scrub strings inside ``extra`` values, keeping numbers, booleans and shapes."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub_text(value, operational=key in OPERATIONAL_KEYS)
    if depth >= _MAX_DEPTH:
        return WITHHELD
    if isinstance(value, Mapping):
        return {scrub_text(str(k)): scrub_value(v, depth + 1, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub_value(v, depth + 1, key) for v in value]
    return scrub_text(str(value), operational=key in OPERATIONAL_KEYS)


def scrub_record(record: logging.LogRecord) -> None:
    """Scrub a record in place (message, args, exception, stack, extras). Idempotent."""
    if getattr(record, _MARK, False):
        return
    if record.exc_info and record.exc_info[0] is None:
        record.exc_info = None  # ``log.exception`` outside an ``except`` block
    raw = raw_data_logger(record.name) is not None
    if raw:
        _withhold_raw(record)
    try:
        message = record.getMessage()
    except Exception:
        message = f"{record.msg!s} {record.args!r}"
    record.msg = scrub_text(message)
    record.args = None
    if record.exc_info and record.exc_info[0] is not ScrubbedTraceback:
        if raw:
            formatted = _exception_shape(record.exc_info)
        else:
            formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        text = scrub_text(formatted)
        record.exc_info = (ScrubbedTraceback, ScrubbedTraceback(text), None)
        record.exc_text = text
    elif record.exc_text and not record.exc_info:
        record.exc_text = scrub_text(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub_text(record.stack_info)
    for key, value in list(vars(record).items()):
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            record.__dict__[key] = scrub_value(value, key=key)
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
            value = scrub_value(value, key=key)
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


def _add_filter(handler: logging.Handler) -> bool:
    if any(isinstance(f, PHILogFilter) for f in handler.filters):
        return False
    handler.addFilter(PHILogFilter())
    return True


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


@contextmanager
def scrubbed_logs() -> Iterator[None]:
    """Scrub every record made inside the block, then put logging back as it was.

    For a short command that runs inside a process whose logging it does not own (a
    CLI called in-process by tests or by another tool); a component installs the
    filter for good with ``install_log_filter``.
    """
    with _state_lock:
        if _installed:
            added: list[logging.Handler] = []
            previous = None
        else:
            added = [h for h in _all_handlers() if _add_filter(h)]
            previous = logging.getLogRecordFactory()
            if not previous.__dict__.get(_MARK, False):
                logging.setLogRecordFactory(_wrap_factory(previous))
            else:
                previous = None
    try:
        yield
    finally:
        with _state_lock:
            if previous is not None:
                logging.setLogRecordFactory(previous)
            for handler in added:
                for found in [f for f in handler.filters if isinstance(f, PHILogFilter)]:
                    handler.removeFilter(found)
