"""The default install stays CPU-sized: no dependency of ``frontdesk`` (without extras), however
deep, is torch, a CUDA/NVIDIA wheel or sentence-transformers; the sentence encoder runs on
onnxruntime's CPU build, and the encoder itself is in the package."""

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
    assert {"numpy", "scikit-learn", "aiohttp", "onnxruntime"} <= tree  # the walk read the tree
    heavy = sorted(n for n in tree if n in HEAVY or n.startswith(("nvidia-", "triton")))
    assert heavy == []


def test_the_sentence_encoder_ships_in_the_package() -> None:
    """The encoder the hybrid classifier and the knowledge base use is a file of the package
    (declared as package data), not something fetched at run time."""
    project = tomllib.loads(PYPROJECT.read_text())
    assert "minilm/*" in project["tool"]["setuptools"]["package-data"]["nlu"]
    from nlu import encoder

    assert encoder.available() and encoder.model_path().stat().st_size < 30_000_000
    assert encoder.model_path().parent == Path(__file__).parents[2] / "nlu" / "minilm"
    # the tunable top layers (nlu/tuning.py): their graph and float weights
    folder = encoder.model_path().parent
    assert (folder / "top.onnx").is_file() and (folder / "top_layers.bin").stat().st_size < 15e6
