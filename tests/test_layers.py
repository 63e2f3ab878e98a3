"""The floor plan (README.md, "Layers"): every import in portal/ points down a layer or stays in
its own, and no page module imports another feature's page module.

Read with `ast`, so imports inside functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PORTAL = Path(__file__).resolve().parent.parent / "portal"

# Lowest first. A module may import from its own layer or any layer below, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "portal.config",
        "portal.extensions",
        "portal.site",
        "portal.workdays",
        "portal.printing",
        "portal.personal_data",
        "portal.caching",
        "portal.leases",
        "portal.textfiles",
        "portal.labels",
        "portal.progress",
    ),
    ("portal.audit", "portal.outbox"),
    ("portal.offices",),
    ("portal.staff",),
    ("portal.notices",),
    ("portal.intake",),
    ("portal.triage",),
    ("portal.ledger",),
    ("portal.devtools",),
)
APP = "portal"  # create_app() wires every layer together: it may import anything


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PORTAL.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def _feature(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _is_view(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last == "views" or last.endswith("_views")


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every portal import, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("portal")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("portal"):
                continue
            for alias in node.names:  # `from portal.x import y` may name a module y
                candidate = f"{target}.{alias.name}"
                sub = PORTAL.parent / Path(*candidate.split("."))
                is_module = sub.with_suffix(".py").exists() or (sub / "__init__.py").exists()
                found.append((node.lineno, candidate if is_module else target))
    return found


def _modules() -> list[tuple[Path, str]]:
    return [(p, _module_name(p)) for p in sorted(PORTAL.rglob("*.py"))]


def layer_violations() -> list[str]:
    problems = []
    for path, module in _modules():
        if module == APP:
            continue
        own = _layer(module)
        for line, target in _imports(path, module):
            if target == APP:
                problems.append(f"{module}:{line} imports the app package itself")
                continue
            theirs = _layer(target)
            if own is not None and theirs is not None and theirs > own:
                problems.append(f"{module}:{line} imports {target}, a higher layer")
            if _is_view(target) and _feature(target) != _feature(module):
                problems.append(f"{module}:{line} imports {target}, another feature's pages")
    return problems


def test_every_module_has_a_layer() -> None:
    unplaced = [m for _, m in _modules() if m != APP and _layer(m) is None]
    assert unplaced == [], f"add these modules to LAYERS: {unplaced}"


def test_imports_point_down_the_layers() -> None:
    assert layer_violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from portal.ledger import stats\n", "portal.ledger.stats, a higher layer"),
        ("from portal.triage.views import bp\n", "portal.triage.views, a higher layer"),
        ("import portal.intake.service\n", "portal.intake.service, a higher layer"),
    ],
)
def test_an_upward_import_is_caught(tmp_path: Path, source: str, expected: str) -> None:
    # The checker itself must see the kinds of import it guards against.
    module = "portal.notices.service"
    path = tmp_path / "service.py"
    path.write_text(source)
    targets = [t for _, t in _imports(path, module)]
    assert any(_layer(t) is not None and _layer(t) > _layer(module) for t in targets), expected


def test_a_view_importing_another_features_view_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "views.py"
    path.write_text("from portal.intake.public_views import bp\n")
    targets = [t for _, t in _imports(path, "portal.triage.views")]
    assert any(_is_view(t) and _feature(t) != "portal.triage" for t in targets)
