"""Contrastive tuning of the sentence encoder's top layers on the admin's own examples.

The shipped encoder (nlu/encoder.py) was trained to place paraphrases together, not this bot's
intents apart. Like SetFit, we tune it on the training examples: batches of a few intents with
a few examples each, a supervised contrastive loss (each example's nearest neighbours should be
its own intent's examples), AdamW. Only the top ``TUNABLE`` transformer layers change; the
lower ones run once per text in the int8 graph, whose second output is the token states that
enter the tunable layers. Forward and backward passes are written in numpy (no torch): the two
layers cost about as much as the rest of the graph.

Measured on dev splits of HWU64's training data at 10 examples an intent: top-1 of the hybrid
classifier 0.829 → 0.865 (docs/nlu.md).

API: ``TopLayers.shipped()`` (the released weights), ``tune(states, labels) -> TopLayers``,
``TopLayers.encode(states) -> float32 (n, 384)`` L2-normalised sentence vectors, and
``arrays()`` / ``from_arrays()`` to store a tuned copy with the model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from scipy.special import erf  # type: ignore[import-untyped,unused-ignore]
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped,unused-ignore]

Array = np.ndarray[Any, np.dtype[Any]]
HEADS, SIZE = 12, 32
DIMENSION = HEADS * SIZE
NAMES = (
    "qkv_w", "qkv_b", "o_w", "o_b", "ln1_w", "ln1_b", "i_w", "i_b", "f_w", "f_b", "ln2_w", "ln2_b",
)  # fmt: skip
_EPS = 1e-12
_SCALE = 1.0 / math.sqrt(SIZE)
_PREFIX = "tuned."
TOP_WEIGHTS = "top_layers.bin"  # the shipped float32 weights, beside model.onnx
SHAPES = {
    "qkv_w": (DIMENSION, 3 * DIMENSION), "qkv_b": (3 * DIMENSION,),
    "o_w": (DIMENSION, DIMENSION), "o_b": (DIMENSION,),
    "ln1_w": (DIMENSION,), "ln1_b": (DIMENSION,),
    "i_w": (DIMENSION, 4 * DIMENSION), "i_b": (4 * DIMENSION,),
    "f_w": (4 * DIMENSION, DIMENSION), "f_b": (DIMENSION,),
    "ln2_w": (DIMENSION,), "ln2_b": (DIMENSION,),
}  # fmt: skip
_CHUNK = 16  # texts a forward pass while tuning


@dataclass(frozen=True)
class TuneOptions:
    """Chosen on dev splits of HWU64's training data (docs/nlu.md): batches of 16 intents x 4
    examples, each example seen about 12 times (at most 120 batches: the data of a large bot
    needs the tuning less), learning rate 1.5e-4, temperature 0.05."""

    epochs: float = 12.0
    max_steps: int = 120
    intents: int = 16
    per_intent: int = 4
    learning_rate: float = 1.5e-4
    temperature: float = 0.05
    weight_decay: float = 0.01
    seed: int = 0


@lru_cache(maxsize=1)
def _blas() -> Any:
    return ThreadpoolController()


def _one_thread() -> Any:
    """One BLAS thread for what follows. With more threads than free cores (a gateway serving
    while it retrains, other jobs) OpenBLAS hands work to a thread that waits for a core: a
    one-message product took 8 ms instead of 0.25, and tuning slowed tenfold. Alone on two
    cores, two threads would tune ~1.4x faster."""
    return _blas().limit(limits=1, user_api="blas")


# --------------------------------------------------------------------------- one layer


def _layer_norm(h: Array, w: Array, b: Array) -> tuple[Array, tuple[Array, Array]]:
    centred = h - h.mean(-1, keepdims=True)
    inv = 1.0 / np.sqrt((centred * centred).mean(-1, keepdims=True) + _EPS)
    normed = centred * inv
    return normed * w + b, (normed, inv)


def _layer_norm_back(dy: Array, w: Array, cache: tuple[Array, Array]) -> tuple[Array, Array, Array]:
    normed, inv = cache
    dn = dy * w
    dh = inv * (dn - dn.mean(-1, keepdims=True) - normed * (dn * normed).mean(-1, keepdims=True))
    return dh, (dy * normed).sum((0, 1)), dy.sum((0, 1))


def _flat(x: Array) -> Array:
    return x.reshape(-1, x.shape[-1])


def _layer(p: dict[str, Array], x: Array, bias: Array) -> tuple[Array, tuple[Any, ...]]:
    """One BERT layer on ``x`` (batch, length, 384); ``bias`` masks the padding keys."""
    batch, length, _ = x.shape
    qkv = (x @ p["qkv_w"] + p["qkv_b"]).reshape(batch, length, 3, HEADS, SIZE)
    q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
    scores = q @ k.transpose(0, 1, 3, 2) * _SCALE + bias
    att = np.exp(scores - scores.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    ctx = (att @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSION)
    y1, n1 = _layer_norm(ctx @ p["o_w"] + p["o_b"] + x, p["ln1_w"], p["ln1_b"])
    u = y1 @ p["i_w"] + p["i_b"]
    cdf = 0.5 * (1.0 + erf(u / math.sqrt(2.0)))
    g = u * cdf  # exact GELU, as BERT
    y2, n2 = _layer_norm(g @ p["f_w"] + p["f_b"] + y1, p["ln2_w"], p["ln2_b"])
    return y2, (x, q, k, v, att, ctx, y1, n1, u, cdf, g, n2)


def _layer_back(
    p: dict[str, Array], dy2: Array, cache: tuple[Any, ...]
) -> tuple[Array, dict[str, Array]]:
    x, q, k, v, att, ctx, y1, n1, u, cdf, g, n2 = cache
    batch, length, _ = x.shape
    grads: dict[str, Array] = {}
    dh2, grads["ln2_w"], grads["ln2_b"] = _layer_norm_back(dy2, p["ln2_w"], n2)
    grads["f_w"] = _flat(g).T @ _flat(dh2)
    grads["f_b"] = dh2.sum((0, 1))
    du = (dh2 @ p["f_w"].T) * (cdf + u * np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi))
    grads["i_w"] = _flat(y1).T @ _flat(du)
    grads["i_b"] = du.sum((0, 1))
    dy1 = dh2 + du @ p["i_w"].T
    dh1, grads["ln1_w"], grads["ln1_b"] = _layer_norm_back(dy1, p["ln1_w"], n1)
    grads["o_w"] = _flat(ctx).T @ _flat(dh1)
    grads["o_b"] = dh1.sum((0, 1))
    dctx = (dh1 @ p["o_w"].T).reshape(batch, length, HEADS, SIZE).transpose(0, 2, 1, 3)
    datt = dctx @ v.transpose(0, 1, 3, 2)
    dv = att.transpose(0, 1, 3, 2) @ dctx
    dscores = att * (datt - (datt * att).sum(-1, keepdims=True)) * _SCALE
    dq = dscores @ k
    dk = dscores.transpose(0, 1, 3, 2) @ q
    dqkv = np.stack([dq, dk, dv], axis=2).transpose(0, 3, 2, 1, 4).reshape(batch, length, -1)
    grads["qkv_w"] = _flat(x).T @ _flat(dqkv)
    grads["qkv_b"] = dqkv.sum((0, 1))
    return dh1 + dqkv @ p["qkv_w"].T, grads


# --------------------------------------------------------------------------- the top layers


def _pad(states: Sequence[Array], dtype: Any) -> tuple[Array, Array]:
    length = max(len(s) for s in states)
    x = np.zeros((len(states), length, DIMENSION), dtype=dtype)
    mask = np.zeros((len(states), length), dtype=dtype)
    for row, s in enumerate(states):
        x[row, : len(s)] = s
        mask[row, : len(s)] = 1.0
    return x, mask


class TopLayers:
    """The encoder's top layers with their weights, mean pooling and L2 normalisation."""

    def __init__(self, layers: list[dict[str, Array]], *, shipped: bool = False) -> None:
        self.layers = layers
        self.shipped_weights = shipped  # the graph's own weights: no need to put them in place
        self._graph: Any = None

    @classmethod
    def shipped(cls) -> TopLayers:
        """The released weights (nlu/minilm/top_layers.npz, written by the export tool)."""
        with resources.as_file(resources.files("nlu") / "minilm" / TOP_WEIGHTS) as path:
            raw = np.fromfile(path, dtype="<f4")
        layers, offset = [], 0
        while offset < len(raw):
            layer = {}
            for name in NAMES:
                size = math.prod(SHAPES[name])
                layer[name] = raw[offset : offset + size].reshape(SHAPES[name]).astype(np.float32)
                offset += size
            layers.append(layer)
        return cls(layers, shipped=True)

    @staticmethod
    def stored(arrays: dict[str, Array]) -> bool:
        """Whether a saved model's arrays include tuned layers."""
        return any(k.startswith(_PREFIX) for k in arrays)

    def arrays(self) -> dict[str, Array]:
        return {f"{_PREFIX}{i}.{k}": v for i, p in enumerate(self.layers) for k, v in p.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Array]) -> TopLayers:
        count = len({k.split(".")[1] for k in arrays if k.startswith(_PREFIX)})

        def layer(i: int) -> dict[str, Array]:
            return {n: np.ascontiguousarray(arrays[f"{_PREFIX}{i}.{n}"], np.float32) for n in NAMES}

        return cls([layer(i) for i in range(count)])

    def forward(self, x: Array, mask: Array) -> tuple[Array, list[Any]]:
        """Sentence vectors of padded token states, and what the backward pass needs."""
        bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(x.dtype)
        caches = []
        for p in self.layers:
            x, cache = _layer(p, x, bias)
            caches.append(cache)
        count = mask.sum(1, keepdims=True)
        pooled = (x * mask[:, :, None]).sum(1) / count
        norm = np.sqrt((pooled * pooled).sum(1, keepdims=True))
        caches.append((mask, count, pooled / norm, norm))
        out: Array = pooled / norm
        return out, caches

    def backward(self, dvectors: Array, caches: list[Any]) -> list[dict[str, Array]]:
        """The weights' gradients, given the loss's gradient with respect to the vectors."""
        mask, count, unit, norm = caches[-1]
        dpooled = (dvectors - unit * (unit * dvectors).sum(1, keepdims=True)) / norm
        dx = dpooled[:, None, :] * (mask / count)[:, :, None]
        grads: list[dict[str, Array]] = [{} for _ in self.layers]
        for i in reversed(range(len(self.layers))):
            dx, grads[i] = _layer_back(self.layers[i], dx, caches[i])
        return grads

    def encode(self, states: Sequence[Array]) -> Array:
        """One L2-normalised float32 vector per text, from its token states (length, 384), by
        onnxruntime (nlu/encoder.py's top graph, fed these weights)."""
        from nlu.encoder import TopGraph

        if self._graph is None:
            weights = {f"{i}.{k}": v for i, p in enumerate(self.layers) for k, v in p.items()}
            self._graph = TopGraph(None if self.shipped_weights else weights)
        out: Array = self._graph.encode(states)
        return out

    def encode_numpy(self, states: Sequence[Array], batch: int = 64) -> Array:
        """``encode`` by this module's numpy forward pass (the one tuning differentiates).
        Texts of similar length are padded together; padding never changes a vector."""
        out = np.zeros((len(states), DIMENSION), dtype=np.float32)
        order = np.argsort([len(s) for s in states], kind="stable")
        with _one_thread():
            for start in range(0, len(order), batch):
                chunk = order[start : start + batch]
                x, mask = _pad([states[i] for i in chunk], np.float32)
                out[chunk] = self.forward(x, mask)[0]
        return out


# --------------------------------------------------------------------------- the loss


def contrastive_loss(vectors: Array, labels: Array, temperature: float) -> tuple[float, Array]:
    """Supervised contrastive loss (Khosla et al. 2020) of L2-normalised vectors, and its
    gradient: for each example with another of its intent in the batch, minus the mean log
    probability of picking one of those among all the others by cosine / temperature."""
    n = len(labels)
    eye = np.eye(n, dtype=bool)
    sim = vectors @ vectors.T / temperature
    sim[eye] = -1e9
    logp = sim - sim.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    positive = (labels[:, None] == labels[None, :]) & ~eye
    counts = positive.sum(1)
    anchors = max(int((counts > 0).sum()), 1)
    weights = positive / np.maximum(counts, 1)[:, None] / anchors
    loss = float(-(weights * logp).sum())
    dlogp = -weights
    dsim = dlogp - np.exp(logp) * dlogp.sum(1, keepdims=True)
    dvectors: Array = (dsim + dsim.T) @ vectors / temperature
    return loss, dvectors


# --------------------------------------------------------------------------- training


def _batches(labels: Array, options: TuneOptions) -> list[Array]:
    """``steps`` batches of ``intents`` intents x up to ``per_intent`` examples each, drawn
    from the intents with at least two examples (the others have no positive pair)."""
    rng = np.random.default_rng(options.seed)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    groups = [g for g in groups if len(g) >= 2]
    if len(groups) < 2:
        return []
    size = min(options.intents, len(groups)) * options.per_intent
    steps = min(options.max_steps, math.ceil(options.epochs * len(labels) / size))
    out = []
    for _ in range(steps):
        picked = rng.choice(len(groups), min(options.intents, len(groups)), replace=False)
        size = options.per_intent
        out.append(np.concatenate([rng.choice(groups[c], min(size, len(groups[c])), False)
                                   for c in picked]))  # fmt: skip
    return out


def tune(
    states: Sequence[Array],
    labels: Sequence[str],
    options: TuneOptions | None = None,
    start: TopLayers | None = None,
) -> TopLayers:
    """A copy of ``start`` (default: the shipped weights) tuned on these examples' token states
    (the encoder's ``states``) and intents. Deterministic for a given seed."""
    with _one_thread():
        return _tune(states, labels, options or TuneOptions(), start)


def _tune(
    states: Sequence[Array], labels: Sequence[str], options: TuneOptions, start: TopLayers | None
) -> TopLayers:
    start = start or TopLayers.shipped()
    model = TopLayers([{k: v.copy() for k, v in p.items()} for p in start.layers])
    index = {label: i for i, label in enumerate(sorted(set(labels)))}
    y = np.array([index[label] for label in labels])
    moments = [{k: (np.zeros_like(v), np.zeros_like(v)) for k, v in p.items()}
               for p in model.layers]  # fmt: skip
    beta1, beta2 = 0.9, 0.999
    for step, batch in enumerate(_batches(y, options), start=1):
        # texts of similar length run together: a batch padded to its longest text would
        # spend half its time on padding
        batch = batch[np.argsort([len(states[i]) for i in batch], kind="stable")]
        chunks = [batch[i : i + _CHUNK] for i in range(0, len(batch), _CHUNK)]
        passes = [model.forward(*_pad([states[i] for i in c], np.float32)) for c in chunks]
        vectors = np.vstack([v for v, _ in passes])
        _, dvectors = contrastive_loss(vectors, y[batch], options.temperature)
        parts = [
            model.backward(dvectors[i : i + _CHUNK], caches)
            for i, (_, caches) in zip(range(0, len(batch), _CHUNK), passes, strict=True)
        ]
        grads = [
            {k: np.sum([g[j][k] for g in parts], axis=0) for k in NAMES}
            for j in range(len(model.layers))
        ]
        rate = options.learning_rate * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        for p, g, m in zip(model.layers, grads, moments, strict=True):
            for name, value in p.items():
                first, second = m[name]
                first *= beta1
                first += (1 - beta1) * g[name]
                second *= beta2
                second += (1 - beta2) * g[name] * g[name]
                value *= 1 - options.learning_rate * options.weight_decay
                value -= rate * first / (np.sqrt(second) + 1e-8)
    return model
