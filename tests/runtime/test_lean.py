"""``wardlink.runtime.lean``: pydantic finds no plugins, and ``importlib.metadata`` stays out.

The stand-in loader must offer what pydantic's own offers and calls (a pydantic
upgrade that changes the loader's interface fails here, not on a gateway), and a
component's models must validate exactly as before.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pydantic.plugin._loader as real_loader

from wardlink.runtime.lean import LOADER, keep_pydantic_plugins_out

SCRIPT = """
import json, sys
from wardlink.runtime.lean import keep_pydantic_plugins_out
installed = keep_pydantic_plugins_out()
again = keep_pydantic_plugins_out()
from pydantic import BaseModel, ValidationError
class Reading(BaseModel):
    value: float
    unit: str
ok = Reading(value="97", unit="%").value == 97.0
try:
    Reading(value="high", unit="%")
    refused = False
except ValidationError:
    refused = True
print(json.dumps({"installed": installed, "again": again, "ok": ok, "refused": refused,
                  "metadata": "importlib.metadata" in sys.modules,
                  "plugins": list(sys.modules["pydantic.plugin._loader"].get_plugins())}))
"""


def test_models_validate_as_before_without_importlib_metadata() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "installed": True,
        "again": False,
        "ok": True,
        "refused": True,
        "metadata": False,
        "plugins": [],
    }


def test_the_real_loader_offers_what_the_stand_in_does() -> None:
    assert real_loader.__name__ == LOADER
    assert callable(real_loader.get_plugins)
    assert real_loader.PYDANTIC_ENTRY_POINT_GROUP == "pydantic"


def test_does_nothing_once_pydantic_is_loaded() -> None:
    assert "pydantic" in sys.modules
    assert keep_pydantic_plugins_out() is False
    assert sys.modules[LOADER] is real_loader
