"""The default install stays CPU-sized: no dependency of ``frontdesk`` (without extras), however
deep, is torch, a CUDA/NVIDIA wheel or sentence-transformers; the sentence encoder runs on
numpy."""

from __future__ import annotations

import contextlib
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
HEAVY = ("torch", "sentence-transformers", "tensorflow", "jax", "onnxruntime-gpu")


def _name(requirement: Requirement) -> str:
    return requirement.name.lower().replace("_", "-")


def _default_tree() -> set[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an extra's or another platform's requirement
        name = _name(req)
        if name in seen:
            continue
        seen.add(name)
        with contextlib.suppress(metadata.PackageNotFoundError):  # not installed: not readable
            todo += [Requirement(r) for r in metadata.requires(name) or []]
    return seen


def test_default_dependencies_pull_no_gpu_framework() -> None:
    tree = _default_tree()
    assert {"numpy", "scikit-learn", "aiohttp"} <= tree  # the walk did read the tree
    heavy = sorted(n for n in tree if n in HEAVY or n.startswith(("nvidia-", "triton")))
    assert heavy == []
