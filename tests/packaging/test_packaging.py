"""The distribution ships every package folder, and the two import names resolve."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"tinysam_mobile": ROOT / "tinysam_mobile", "tinysam_export": ROOT / "export"}


def _packages_on_disk() -> set[str]:
    found = set()
    for name, folder in FOLDERS.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder)
            found.add(".".join((name, *rel.parts)) if rel.parts else name)
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    missing = _packages_on_disk() - listed
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_export_folder_imports_as_tinysam_export() -> None:
    import tinysam_export

    assert Path(tinysam_export.__file__).resolve().parent == FOLDERS["tinysam_export"]
