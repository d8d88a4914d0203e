"""Few-shot, full-data and out-of-scope figures of every built-in classifier, on HWU64 (fold 1)
with 8, 10 and 30 examples per intent (seeded samples, several seeds averaged) and the full
training data, and on SNIPS. For each: accuracy at the default threshold ("not understood"
counts as wrong), top-1 accuracy (threshold 0), out-of-scope recall at the default threshold
with 10 intents held out of training (seeded choice, tested on the whole test set: held-out
messages should come out "not understood"), the in-scope accuracy in that run, training time
and single-message parse p50/p99 (the whole parse: intent, entities, sentiment).

A classifier name may carry the confidence after a colon: ``static:temperature`` is the
static classifier with the temperature-scaled top probability (the nlu.confidence default)
instead of the calibrated in-scope probability (nlu/inscope.py) that a bare name gets here.
``tuned`` is ``hybrid`` with the encoder's top layers tuned on the training examples
(nlu/tuning.py, the gateway's default since 0.4); bare ``hybrid`` is the encoder as shipped.

``--curve`` also prints, for the held-out-intents runs, the in-scope accuracy / held-out
recall at thresholds 0.3 to 0.7 (the trade-off curve, seeds averaged), and the separation: the
area under the ROC curve of the confidence between the in-scope messages whose top intent is
right and the held-out intents' messages (1.0: some threshold keeps every right answer and
refuses every unknown topic; a calibration change moves along the curve and leaves it as it is).

Usage: python benchmarks/nlu_fewshot.py [--classifiers static,tfidf,hybrid]
         [--sets 8,10,30,full,snips] [--seeds 3] [--threshold 0.5] [--no-oos] [--curve]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nlu.data import OUT_OF_SCOPE, NluData
from nlu.importer import read_any
from nlu.model import TrainOptions, train
from nlu.result import ParseResult

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = next(
    (
        p
        for p in (os.path.join(_HERE, up, "shared/datasets") for up in ("../..", "../../.."))
        if os.path.isdir(p)
    ),
    os.path.join(_HERE, "../../shared/datasets"),
)  # /work/shared from the repository and from a worktree under /work/wt
HWU = os.environ.get("HWU64", os.path.join(ROOT, "hwu64/kfold1"))
SNIPS = os.environ.get("SNIPS", os.path.join(ROOT, "snips"))


CURVE = (0.3, 0.4, 0.5, 0.6, 0.7)


def hwu(part: str) -> NluData:
    return read_any(
        sorted(glob.glob(f"{HWU}/{part}/*.csv")),
        text_column="answer_from_anno",
        intent_columns=("scenario", "intent"),
    )


def sample(data: NluData, k: int | None, seed: int, keep: set[str] | None = None) -> NluData:
    """``k`` examples of each intent (all when None), seeded; only intents in ``keep``."""
    rng = random.Random(seed)
    out = []
    for intent in sorted(data.intents):
        if keep is not None and intent not in keep:
            continue
        rows = [e for e in data.examples if e.intent == intent]
        out += rows if k is None else rng.sample(rows, min(k, len(rows)))
    return NluData(examples=out)


def run(
    train_data: NluData,
    test: NluData,
    classifier: str,
    threshold: float,
    held_out: set[str] | None = None,
) -> dict[str, float]:
    name, _, confidence = classifier.partition(":")
    options = TrainOptions(
        classifier="hybrid" if name == "tuned" else name,  # type: ignore[arg-type]
        confidence=confidence or "inscope",  # type: ignore[arg-type]
        tuning="contrastive" if name == "tuned" else "none",
    )
    nlu = train(train_data, options, threshold=threshold)
    texts = [e.text for e in test.examples]
    results = nlu.parse_many(texts)
    held_out = held_out or set()
    inscope = [(e, r) for e, r in zip(test.examples, results, strict=True)
               if e.intent not in held_out]  # fmt: skip
    out = {
        "accuracy": statistics.mean(r.intent == e.intent for e, r in inscope),
        "top1": statistics.mean(
            bool(r.ranking) and r.ranking[0].name == e.intent for e, r in inscope
        ),
        "train_s": nlu.train_seconds,
    }
    if held_out:
        flagged = [r.intent is None for e, r in zip(test.examples, results, strict=True)
                   if e.intent in held_out]  # fmt: skip
        out["oos_recall"] = statistics.mean(flagged)
        out["separation"] = separation(test, results, held_out)
        for t in CURVE:
            out[f"in@{t}"] = statistics.mean(
                bool(r.ranking) and r.ranking[0].name == e.intent and r.confidence >= t
                for e, r in inscope
            )
            out[f"rec@{t}"] = statistics.mean(
                r.confidence < t or not r.ranking or r.ranking[0].name == OUT_OF_SCOPE
                for e, r in zip(test.examples, results, strict=True)
                if e.intent in held_out
            )
    ms, cpu = [], []
    for text in texts[:300]:
        started, started_cpu = time.perf_counter(), time.thread_time()
        nlu.parse(text)
        ms.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    ms.sort()
    cpu.sort()
    out["p50_ms"] = ms[len(ms) // 2]
    out["p99_ms"] = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    # the parse's own CPU time: on a machine shared with other jobs the wall-clock p99 is
    # mostly time spent waiting for a core
    out["cpu_p99_ms"] = cpu[min(len(cpu) - 1, int(len(cpu) * 0.99))]
    return out


def separation(test: NluData, results: list[ParseResult], held_out: set[str]) -> float:
    """AUROC of the confidence: right in-scope top intents against held-out messages."""
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    labels, scores = [], []
    for e, r in zip(test.examples, results, strict=True):
        right = bool(r.ranking) and r.ranking[0].name == e.intent
        if e.intent in held_out or right:
            labels.append(e.intent not in held_out)
            scores.append(r.confidence)
    return float(roc_auc_score(labels, scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--classifiers", default="static,tfidf,hybrid")
    parser.add_argument("--sets", default="8,10,30,full,snips")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--no-oos", action="store_true", help="skip the held-out-intents runs")
    parser.add_argument("--curve", action="store_true", help="in-scope / recall by threshold")
    args = parser.parse_args()
    hwu_train, hwu_test = hwu("train"), hwu("test")
    print(
        "set       classifier         accuracy  top-1   in-scope  oos-recall  train s  p50 ms"
        "  p99 ms  cpu p99"
    )
    for name in args.sets.split(","):
        for classifier in args.classifiers.split(","):
            rows: list[dict[str, float]] = []
            oos: list[dict[str, float]] = []
            if name == "snips":
                train_data = read_any(sorted(glob.glob(f"{SNIPS}/*/train_*_full.json")))
                test = read_any(sorted(glob.glob(f"{SNIPS}/*/validate_*.json")))
                rows.append(run(train_data, test, classifier, args.threshold))
            else:
                k = None if name == "full" else int(name)
                seeds = range(1 if k is None else args.seeds)
                for seed in seeds:
                    data = sample(hwu_train, k, seed)
                    rows.append(run(data, hwu_test, classifier, args.threshold))
                    if not args.no_oos:
                        held = set(random.Random(seed).sample(sorted(hwu_train.intents), 10))
                        kept = set(hwu_train.intents) - held
                        data = sample(hwu_train, k, seed, keep=kept)
                        oos.append(run(data, hwu_test, classifier, args.threshold, held))

            def mean(runs: list[dict[str, float]], key: str) -> str:
                values = [r[key] for r in runs if key in r]
                return f"{statistics.mean(values):.4f}" if values else "   -  "

            print(
                f"{name:<9} {classifier:<18} {mean(rows, 'accuracy')}    {mean(rows, 'top1')}  "
                f"{mean(oos, 'accuracy')}    {mean(oos, 'oos_recall')}     "
                f"{statistics.mean(r['train_s'] for r in rows):7.1f}  "
                f"{statistics.mean(r['p50_ms'] for r in rows):6.2f}  "
                f"{statistics.mean(r['p99_ms'] for r in rows):6.2f}  "
                f"{statistics.mean(r['cpu_p99_ms'] for r in rows):7.2f}",
                flush=True,
            )
            if args.curve and oos:
                points = [f"{t}: {mean(oos, f'in@{t}')} / {mean(oos, f'rec@{t}')}" for t in CURVE]
                print("          curve: " + "  ".join(points), flush=True)
                print(f"          separation (AUROC): {mean(oos, 'separation')}", flush=True)


if __name__ == "__main__":
    main()
