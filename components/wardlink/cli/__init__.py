"""The ``wardlink`` command. Each sub-command lives in its own module."""
