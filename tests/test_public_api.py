"""The public API: ``__all__`` marks the face of a package, and means it.

Faces: ``roster_pipeline`` (the core API), ``roster_pipeline.store`` (the Store
protocol and its records), ``roster_pipeline.sources`` (pull sources: the seam a
SIS's API plugs into), ``roster_pipeline.cli`` (the entry point) and
``sftp_server`` (the receiver library). Checked both ways, as httpx does:
everything exported exists, and every public name a face holds is exported;
what code outside a package imports from it is on its face. Internal modules
declare no ``__all__``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import roster_pipeline
import sftp_server

FACES = (
    "roster_pipeline",
    "roster_pipeline.store",
    "roster_pipeline.sources",
    "roster_pipeline.cli",
    "sftp_server",
)
SOURCE = Path(roster_pipeline.__file__).resolve().parent.parent


def _face(name: str) -> tuple[ModuleType, list[str]]:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    return module, list(exported)


@pytest.mark.parametrize("name", FACES)
def test_everything_exported_exists(name: str) -> None:
    module, exported = _face(name)
    assert [n for n in exported if not hasattr(module, n)] == []


@pytest.mark.parametrize("name", FACES)
def test_every_public_name_of_a_face_is_exported(name: str) -> None:
    module, exported = _face(name)
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_") and not isinstance(value, ModuleType) and _defined_in(value, name)
    }
    assert sorted(public - set(exported)) == []


def _defined_in(value: object, package: str) -> bool:
    """True for a class or function of ``package``'s own modules (not a library's)."""
    where = getattr(value, "__module__", None)
    return isinstance(where, str) and _within(where, package)


def _within(module: str | None, package: str) -> bool:
    return module is not None and (module == package or module.startswith(package + "."))


def _imports_from(package: str, outside: Path) -> set[tuple[str, str]]:
    """(module, name) of every ``from package[.x] import name`` in the code outside."""
    found = set()
    for path in SOURCE.joinpath("roster_pipeline").rglob("*.py"):
        if path.is_relative_to(outside):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and _within(node.module, package):
                found |= {(str(node.module), alias.name) for alias in node.names}
    return found


@pytest.mark.parametrize(
    "package", ["roster_pipeline.store", "roster_pipeline.sources", "sftp_server"]
)
def test_what_the_rest_of_the_code_uses_of_a_package_is_on_its_face(package: str) -> None:
    _, exported = _face(package)
    folder = SOURCE.joinpath(*package.split("."))
    used = _imports_from(package, folder)
    hidden = sorted(
        f"{where}.{name}"
        for where, name in used
        if not name.startswith("_")
        and name not in exported
        and not isinstance(getattr(importlib.import_module(where), name, None), ModuleType)
    )
    assert hidden == []


def test_internal_modules_declare_no_all() -> None:
    declaring = []
    for package in (roster_pipeline, sftp_server):
        prefix = package.__name__ + "."
        for info in pkgutil.walk_packages(package.__path__, prefix):
            if info.name in FACES:
                continue
            module = importlib.import_module(info.name)
            if hasattr(module, "__all__"):
                declaring.append(info.name)
    assert declaring == []


def test_the_package_exports_the_core_api() -> None:
    for name in ("Home", "load_settings", "add_district", "process", "check", "load_spec"):
        assert name in roster_pipeline.__all__
    assert callable(roster_pipeline.process)
