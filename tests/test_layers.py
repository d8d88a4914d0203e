"""The house's rule: packages depend one way (docs/architecture.md).

Shared types at the bottom (``common``), the engines and adapters above them, the pipe
(``gateway``) above those but reading only their contracts, and one composition root
(``frontdesk``) on top. Every import counts: at module level, inside functions, and under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("common", "nlu", "channels", "dialogs", "gateway", "console", "frontdesk")

# package -> what it may import of the others' (a package, or one module of a package)
ALLOWED: dict[str, tuple[str, ...]] = {
    "common": (),
    "nlu": ("common",),
    "channels": ("common",),
    "dialogs": ("common", "nlu"),
    # the pipe sees the other packages only through their contracts
    "gateway": ("common", "channels.base", "dialogs.base", "nlu.result"),
    "console": ("common", "gateway", "nlu", "dialogs", "channels.base"),
    "frontdesk": OURS,
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for each import of ours in one file, relative imports resolved."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{a.name}" for a in node.names] if node.module is None else [base]
            found += [(node.lineno, name) for name in names]
    return [(line, name) for line, name in found if name.split(".")[0] in OURS]


def allowed(source: str, target: str) -> bool:
    top = target.split(".")[0]
    if top == source:
        return True
    return any(target == rule or target.startswith(rule + ".") for rule in ALLOWED[source])


def violations() -> list[str]:
    found = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            for line, target in imports_of(path):
                if not allowed(package, target):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {package} imports {target}")
    return found


def test_packages_import_only_downward() -> None:
    assert violations() == []


def test_the_rules_have_no_circle() -> None:
    """No two packages may import each other, even through a third."""

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        for rule in ALLOWED[start]:
            nxt = rule.split(".")[0]
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circular = [p for p in OURS if p != "frontdesk" and reaches(p, p)]
    assert circular == []


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        ("gateway", "channels.registry", False),  # concrete adapters: only the root
        ("gateway", "channels.base", True),
        ("channels", "gateway.store", False),
        ("nlu", "dialogs.engine", False),
        ("common", "gateway.messages", False),
        ("frontdesk", "channels.twilio.adapter", True),
    ],
)
def test_the_checker_tells_up_from_down(source: str, target: str, ok: bool) -> None:
    assert allowed(source, target) is ok
