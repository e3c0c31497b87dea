"""The public API: every module declares __all__, and every name in it exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import roster_pipeline
import sftp_server


def _modules() -> list[str]:
    names = []
    for package in (roster_pipeline, sftp_server):
        names.append(package.__name__)
        prefix = package.__name__ + "."
        names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix)]
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_every_module_declares_what_it_exports(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []


def test_the_package_exports_the_core_api() -> None:
    for name in ("Home", "load_settings", "add_district", "process", "check", "load_spec"):
        assert name in roster_pipeline.__all__
    assert callable(roster_pipeline.process)
