"""Which line of a YAML file a validation error's location points at.

pydantic names the key path of a mistake (``devices.0.tcpListen``); a person
editing the file wants the line. Site configuration files and device profiles
both report ``FILE:LINE: KEY.PATH: reason`` through this one lookup.
"""

from __future__ import annotations

from typing import Any

import yaml


def line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at ``loc`` (or of its deepest existing parent).

    Parts of ``loc`` that are not keys of the document (the tag pydantic adds for a
    discriminated union, ``transport.serial.baudrate``) are passed over.
    """

    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                continue  # a union's tag pydantic puts in the path, or a missing key
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
