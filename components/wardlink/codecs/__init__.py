"""Device protocol codecs. See ``base`` for the interface and ``registry`` for names."""

from wardlink.codecs.base import (
    CodecError,
    CodecEvent,
    DecodeContext,
    Decoded,
    FrameError,
    Reply,
    StreamCodec,
    ValueCodec,
)
from wardlink.codecs.registry import all_codecs, get_codec, register

__all__ = [
    "CodecError",
    "CodecEvent",
    "DecodeContext",
    "Decoded",
    "FrameError",
    "Reply",
    "StreamCodec",
    "ValueCodec",
    "all_codecs",
    "get_codec",
    "register",
]
