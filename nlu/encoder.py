"""The sentence encoder that ``pip install frontdesk`` carries: all-MiniLM-L6-v2 (Apache-2.0
weights) as an int8 ONNX graph shipped in ``nlu/minilm/`` (23 MB, built by
nlu/tools/export_onnx.py; NOTICE beside it), run by onnxruntime on the CPU and tokenised by the
pure-Python WordPiece of nlu/wordpiece.py with MiniLM's vocabulary (``nlu/static/vocab.txt``).
No torch, no ``tokenizers``, nothing downloaded. About a millisecond for one short message.

API: ``SentenceEncoder.encode(texts) -> float32 (n, 384)``, one L2-normalised row per text;
``default_encoder()`` is the shared, lazily loaded instance; ``encode(texts)``; ``available()``
says whether onnxruntime and the model can be loaded. ``FRONTDESK_ENCODER_DIR`` points at
another folder with a ``model.onnx`` of the same inputs and output."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from nlu.wordpiece import WordPiece

Array = np.ndarray[Any, np.dtype[np.float32]]
NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 128  # with [CLS] and [SEP]; intents and questions are short (the model's own cut)
INSTALL_HINT = "pip install onnxruntime (a dependency of frontdesk)"
POOL_FROM = 16  # texts in one call from which they are encoded on a thread pool
POOL_THREADS = min(4, os.cpu_count() or 1)


class EncoderUnavailable(RuntimeError):
    pass


def model_path() -> Path:
    folder = os.environ.get("FRONTDESK_ENCODER_DIR")
    if folder:
        return Path(folder) / "model.onnx"
    with resources.as_file(resources.files("nlu") / "minilm" / "model.onnx") as path:
        return Path(path)


def available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and model_path().is_file()


def _vocabulary() -> list[str]:
    return (resources.files("nlu") / "static" / "vocab.txt").read_text("utf-8").splitlines()


class SentenceEncoder:
    """all-MiniLM-L6-v2: 6 BERT layers, 384 dimensions, mean pooling, L2-normalised."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]

        options = ort.SessionOptions()
        # one thread: a message is a few small matrix products (hand-offs cost more than they
        # save) and the gateway's event loop keeps the other core
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # the graph's symbolic shapes are not warnings
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = WordPiece(_vocabulary())
        self._cls = self._tokenizer.vocab["[CLS]"]
        self._sep = self._tokenizer.vocab["[SEP]"]

    def ids(self, text: str) -> list[int]:
        return [self._cls, *self._tokenizer.ids(text)[: MAX_TOKENS - 2], self._sep]

    def _one(self, text: str) -> Array:
        ids = np.array([self.ids(text)], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        out: Array = self._session.run(None, feed)[0][0]
        return out

    def encode(self, texts: Sequence[str]) -> Array:
        """One L2-normalised float32 row per text. One text at a time: the int8 graph quantises
        each product's input over the whole batch, so a text's vector would depend on the texts
        padded beside it (cosine down to 0.95); alone it is always the same, at ~1.3 ms a text
        against ~1.0 ms batched. From ``POOL_FROM`` texts on (training, ``nlu eval``) they run
        on a small thread pool (onnxruntime releases the GIL): 1.5x the sentences a second on
        two cores, the same vectors."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if len(texts) < POOL_FROM or POOL_THREADS < 2:
            for row, text in enumerate(texts):
                out[row] = self._one(text)
            return out
        with ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="encoder") as pool:
            for row, vector in enumerate(pool.map(self._one, texts)):
                out[row] = vector
        return out


@lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder:
    """The shared encoder (loaded once, about 0.2 s)."""
    if not available():
        raise EncoderUnavailable(f"the sentence encoder cannot be loaded: {INSTALL_HINT}")
    return SentenceEncoder(model_path())


def encode(texts: Sequence[str]) -> Array:
    return default_encoder().encode(texts)
