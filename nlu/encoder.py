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
from collections.abc import Callable, Sequence
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
        self._session = _session(path)
        self._tokenizer = WordPiece(_vocabulary())
        self._cls = self._tokenizer.vocab["[CLS]"]
        self._sep = self._tokenizer.vocab["[SEP]"]

    def ids(self, text: str) -> list[int]:
        return [self._cls, *self._tokenizer.ids(text)[: MAX_TOKENS - 2], self._sep]

    def _run(self, text: str, outputs: list[str] | None = None) -> list[Array]:
        ids = np.array([self.ids(text)], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        return [out[0] for out in self._session.run(outputs, feed)]

    def _each(self, texts: Sequence[str], one: Callable[[str], Any]) -> list[Any]:
        """``one`` of each text, in order. From ``POOL_FROM`` texts on (training, ``nlu eval``)
        on a small thread pool (onnxruntime releases the GIL): 1.5x the sentences a second on
        two cores, the same results."""
        if len(texts) < POOL_FROM or POOL_THREADS < 2:
            return [one(text) for text in texts]
        with ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="encoder") as pool:
            return list(pool.map(one, texts))

    def encode_with_states(self, texts: Sequence[str]) -> tuple[Array, list[Array]]:
        """The vectors, and each text's token states entering the top layers (length, 384),
        which nlu/tuning.py tunes."""
        both = self._each(texts, self._run)
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, (vector, _) in enumerate(both):
            out[row] = vector
        return out, [states for _, states in both]

    def states(self, texts: Sequence[str]) -> list[Array]:
        """Only the token states (onnxruntime then skips the graph's own top layers)."""
        out: list[Array] = self._each(texts, lambda text: self._run(text, ["states"])[0])
        return out

    def encode(self, texts: Sequence[str]) -> Array:
        """One L2-normalised float32 row per text. One text at a time: the int8 graph quantises
        each product's input over the whole batch, so a text's vector would depend on the texts
        padded beside it (cosine down to 0.95); alone it is always the same, at ~1.3 ms a text
        against ~1.0 ms batched."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, vector in enumerate(self._each(texts, lambda t: self._run(t, ["embedding"])[0])):
            out[row] = vector
        return out


def _session(path: Path, weights: dict[str, Array] | None = None) -> Any:
    import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]

    options = ort.SessionOptions()
    # one thread: a message is a few small matrix products (hand-offs cost more than they
    # save) and the gateway's event loop keeps the other core
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # the graph's symbolic shapes are not warnings
    values = [(k, ort.OrtValue.ortvalue_from_numpy(v)) for k, v in (weights or {}).items()]
    for name, value in values:  # in place of the graph's own; constant, so packed once
        options.add_initializer(name, value)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.frontdesk_weights = values  # the session reads them: they live as long as it
    return session


class TopGraph:
    """The encoder's top layers (``top.onnx``, float; its weights in ``top_layers.bin``), with
    the weights of a tuned copy (nlu/tuning.py) in place of the shipped ones: token states in,
    sentence vectors out, ~0.8 ms a message (numpy took 2 ms; feeding the weights as inputs
    1.8 ms, as onnxruntime then re-packs them on every run)."""

    def __init__(self, weights: dict[str, Array] | None) -> None:
        self._session = _session(model_path().with_name("top.onnx"), weights)

    def encode(self, states: Sequence[Array]) -> Array:
        out = np.zeros((len(states), DIMENSION), dtype=np.float32)
        for row, state in enumerate(states):
            feed = {"states": state[None], "attention_mask": np.ones((1, len(state)), np.int64)}
            out[row] = self._session.run(None, feed)[0][0]
        return out


@lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder:
    """The shared encoder (loaded once, about 0.2 s)."""
    if not available():
        raise EncoderUnavailable(f"the sentence encoder cannot be loaded: {INSTALL_HINT}")
    return SentenceEncoder(model_path())


def encode(texts: Sequence[str]) -> Array:
    return default_encoder().encode(texts)
