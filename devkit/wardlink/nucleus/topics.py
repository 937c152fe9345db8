"""Topic and resource matching, with the rules Greengrass uses.

Three different matchers, because Greengrass has three different rules:

* ``mqtt_matches(filter, topic)`` - MQTT 3.1.1/5 filter semantics (``+`` one
  level, ``#`` the rest including the parent level). Used to route messages.
* ``policy_allows(resource, requested, mqtt_wildcards=...)`` - an accessControl
  resource against a requested topic, topic filter or ARN. ``*`` alone allows
  everything; elsewhere ``*`` matches any run of characters (nucleus >= 2.6);
  ``${*}``, ``${?}`` and ``${$}`` stand for literal ``*``, ``?`` and ``$``. For
  the mqttproxy service, ``+`` and ``#`` in the *resource* are MQTT wildcards and
  a requested filter is allowed only if everything it could match is inside the
  resource (so ``a/#`` allows subscribing to ``a/#`` and ``a/b``, but ``a/+``
  does not allow ``a/#``). For pubsub and secrets they are literal characters.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ESCAPES = {"${*}": "*", "${?}": "?", "${$}": "$"}
_ESCAPE_RE = re.compile(r"\$\{[*?$]\}")


class TopicError(ValueError):
    """A topic or filter that MQTT does not allow."""


def validate_topic(topic: str, *, allow_wildcards: bool) -> None:
    """Raise ``TopicError`` unless ``topic`` is a valid topic name (or filter)."""
    if not topic:
        raise TopicError("topic must not be empty")
    if len(topic.encode("utf-8")) > 65535:
        raise TopicError("topic is longer than 65535 bytes")
    if "\x00" in topic:
        raise TopicError("topic contains NUL")
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "+" in level or "#" in level:
            if not allow_wildcards:
                raise TopicError(f"wildcards are not allowed in a topic name: {topic!r}")
            if level == "#" and index != len(levels) - 1:
                raise TopicError(f"'#' must be the last level: {topic!r}")
            if level not in ("+", "#"):
                raise TopicError(f"a wildcard must fill a whole level: {topic!r}")


def has_wildcards(topic: str) -> bool:
    return any(level in ("+", "#") for level in topic.split("/"))


def _tokens(resource: str) -> list[tuple[bool, str]]:
    """Split a resource into (is_wildcard_star, literal_text) tokens."""
    tokens: list[tuple[bool, str]] = []
    pos = 0
    literal: list[str] = []
    while pos < len(resource):
        escape = _ESCAPE_RE.match(resource, pos)
        if escape:
            literal.append(_ESCAPES[escape.group(0)])
            pos = escape.end()
            continue
        char = resource[pos]
        if char == "*":
            if literal:
                tokens.append((False, "".join(literal)))
                literal = []
            tokens.append((True, "*"))
        else:
            literal.append(char)
        pos += 1
    if literal:
        tokens.append((False, "".join(literal)))
    return tokens


@lru_cache(maxsize=1024)
def _glob_regex(resource: str) -> re.Pattern[str]:
    parts = [".*" if star else re.escape(text) for star, text in _tokens(resource)]
    return re.compile("".join(parts), re.DOTALL)


def _has_star(resource: str) -> bool:
    return any(star for star, _ in _tokens(resource))


def _unescape(resource: str) -> str:
    return "".join(text for _, text in _tokens(resource))


def _mqtt_filter_covers(resource: str, requested: str) -> bool:
    """Whether every topic ``requested`` can match is matched by ``resource``."""
    have = resource.split("/")
    want = requested.split("/")
    for index, level in enumerate(have):
        if level == "#":
            return True
        if index >= len(want):
            return False
        asked = want[index]
        if level == "+":
            if asked == "#":
                return False
            continue
        if level != asked:
            return False
    return len(have) == len(want)


def policy_allows(resource: str, requested: str, *, mqtt_wildcards: bool = False) -> bool:
    """Whether one accessControl ``resource`` entry allows ``requested``."""
    if resource == "*":
        return True
    if _has_star(resource):
        return _glob_regex(resource).fullmatch(requested) is not None
    literal = _unescape(resource)
    if literal == requested:
        return True
    return mqtt_wildcards and _mqtt_filter_covers(literal, requested)
