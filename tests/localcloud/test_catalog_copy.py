"""The packaged detector catalog is the repository's ``cloud/detectors``, byte for byte.

``cloud/detectors`` is edited and shipped as the engine's Lambda layer; the copy in
``wardlink/detectors/catalog`` is what an installed ``wardlink`` (the local cloud)
runs. Refresh it with ``cp -r cloud/detectors/. components/wardlink/detectors/catalog/``.
"""

from __future__ import annotations

from pathlib import Path

from wardlink.detectors.catalog import models_dir
from wardlink.detectors.ingest import load_models

REPO_CATALOG = Path(__file__).resolve().parents[2] / "cloud" / "detectors"
REFRESH = "cp -r cloud/detectors/. components/wardlink/detectors/catalog/"


def _json_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_packaged_catalog_is_identical_to_cloud_detectors() -> None:
    shipped = _json_files(REPO_CATALOG)
    packaged = _json_files(models_dir())
    assert shipped, f"no models in {REPO_CATALOG}"
    assert sorted(packaged) == sorted(shipped), f"file sets differ; run: {REFRESH}"
    changed = [name for name in shipped if packaged[name] != shipped[name]]
    assert not changed, f"{changed} differ from cloud/detectors; run: {REFRESH}"


def test_packaged_catalog_loads() -> None:
    names = {model.name for model in load_models(models_dir())}
    assert {"wardlink-device-offline", "wardlink-device-fault", "wardlink-gateway-health"} <= names
