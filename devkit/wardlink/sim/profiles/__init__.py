"""Simulator device profiles: one per codec, at the pty links and ports ``wardlink sim`` uses.

They are dev-kit data: a gateway ships only the real profiles of ``wardlink.profiles.builtin``.
The dev kit registers this package under the ``wardlink.profiles`` entry point group.
"""
