"""Every runtime dependency in ``pyproject.toml`` is imported by ``sync``, ``server`` or ``worker``.

A pinned package nobody imports still has to be installed, audited and upgraded, and makes a
reader look for where it is used (``pycrdt-websocket`` was such a package: Arbor's own room
and socket layer replaced it; the README says why). The check goes by the modules each
installed distribution provides, so a plug-in that lives inside another package's namespace
(``pycrdt.websocket`` inside ``pycrdt``) counts only when that sub-package is imported.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sync", "server", "worker")


def runtime_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0] for spec in project["dependencies"]]


def provided_modules(distribution: str) -> set[str]:
    """The outermost modules a distribution installs (``pycrdt.websocket``, ``google.genai``)."""
    files = importlib.metadata.distribution(distribution).files or []
    modules: set[str] = set()
    for file in files:
        parts = file.parts
        if parts[0] == ".." or parts[0].endswith((".dist-info", ".data")):
            continue
        if file.name == "__init__.py":
            modules.add(".".join(parts[:-1]))
        elif file.suffix in (".py", ".so", ".pyd"):
            modules.add(".".join((*parts[:-1], file.name.split(".")[0])))
    return {m for m in modules if not any(m.startswith(other + ".") for other in modules)}


def imported_modules() -> set[str]:
    """Every absolute module name our packages import, with ``from X import y`` as X and X.y."""
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)
                    names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_runtime_dependency_is_imported():
    imported = imported_modules()
    unused = []
    for dependency in runtime_dependencies():
        provided = provided_modules(dependency)
        assert provided, f"{dependency} is not installed or lists no modules"
        if not any(name == m or name.startswith(m + ".") for name in imported for m in provided):
            unused.append(dependency)
    assert unused == []
