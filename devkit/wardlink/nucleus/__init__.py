"""Greengrass packaging and a local nucleus emulator.

* ``eventstream``/``rpc`` - the event-stream RPC protocol that Greengrass IPC runs on.
* ``services`` - the IPC operations, with ``authorization``, ``config_store``,
  ``pubsub``, ``mqtt_bridge`` and ``secret_store`` behind them.
* ``emulator``/``runner`` - ``wardlink gg emulate`` and ``wardlink gg run``.
* ``recipe`` - recipe loading, platform manifests and recipe variables.
* ``recipe_rules``/``component_build`` - recipe and GDK-config checks and the
  ``greengrass-build`` layout; standard library only, because GDK's custom
  build runs ``component_build.py`` by path from a clean clone.

Nothing is imported here on purpose: importing the package must stay free.
"""
