"""Out-of-scope detection on HWU64 (fold 1): train on 54 intents with 10 held out, test on the
whole test set. Reports in-scope accuracy (not understood counts as wrong) against the same
model with no threshold, and the recall of the held-out intents as "not understood", at the
chosen threshold and over a sweep. The held-out intents are fixed (seeded) and never tuned.

With ``--novelty embeddings`` a message must also pass the novelty score (nlu/embeddings.py),
whose threshold the training chooses from cross-validated training scores alone (a budget of
right answers it may cost); the threshold rows then combine both.

Usage: python benchmarks/nlu_out_of_scope.py [--threshold 0.5] [--classifier tfidf|embeddings]
         [--novelty none|embeddings] [--budget 0.03]
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

from nlu.data import NluData
from nlu.importer import read_any
from nlu.model import TrainOptions, train

HWU = os.environ.get(
    "HWU64", os.path.join(os.path.dirname(__file__), "../../shared/datasets/hwu64/kfold1")
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--classifier", choices=("tfidf", "embeddings"), default="tfidf")
    parser.add_argument("--novelty", choices=("none", "embeddings"), default="none")
    parser.add_argument("--budget", type=float, default=0.03)
    parser.add_argument("--held-out", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    def read(part: str) -> NluData:
        return read_any(
            sorted(glob.glob(f"{HWU}/{part}/*.csv")),
            text_column="answer_from_anno",
            intent_columns=("scenario", "intent"),
        )

    train_data, test = read("train"), read("test")
    held_out = set(random.Random(args.seed).sample(train_data.intents, args.held_out))
    kept = NluData(examples=[e for e in train_data.examples if e.intent not in held_out])
    options = TrainOptions(
        classifier=args.classifier, novelty=args.novelty, novelty_budget=args.budget
    )
    nlu = train(kept, options, threshold=0.0)
    results = nlu.parse_many([e.text for e in test.examples])
    # (truth, top intent, confidence, flagged by the novelty score: no intent at threshold 0)
    rows = [
        (e.intent, r.ranking[0].name, r.confidence, r.intent is None)
        for e, r in zip(test.examples, results, strict=True)
    ]
    in_scope = [row for row in rows if row[0] not in held_out]
    outside = [row for row in rows if row[0] in held_out]
    base = sum(t == p for t, p, _, _ in in_scope) / len(in_scope)

    def figures(threshold: float) -> tuple[float, float]:
        def kept(c: float, novel: bool) -> bool:
            return c >= threshold and not novel

        accuracy = sum(t == p and kept(c, n) for t, p, c, n in in_scope) / len(in_scope)
        recall = sum(not kept(c, n) for _, _, c, n in outside) / len(outside)
        return accuracy, recall

    latencies = []
    for example in test.examples[::5]:
        started = time.perf_counter()
        nlu.parse(example.text)
        latencies.append(1000 * (time.perf_counter() - started))

    print(
        f"classifier {args.classifier}, novelty {args.novelty} (budget {args.budget}); held out "
        f"({len(held_out)}): {', '.join(sorted(held_out))}"
    )
    print(
        f"train {len(kept.examples)} examples, {nlu.train_seconds:.1f} s; test {len(in_scope)} "
        f"in scope, {len(outside)} held out"
    )
    print(f"parse p50 {statistics.median(latencies):.2f} ms ({len(latencies)} messages)")
    print(f"in-scope accuracy without a threshold: {base:.2%}")
    if nlu.novelty is not None:
        accuracy, recall = figures(0.0)
        print(
            f"novelty score alone (threshold {nlu.novelty.threshold:.3f}, from the training data):"
            f" in-scope accuracy {accuracy:.2%} (lost {100 * (base - accuracy):.2f} points), "
            f"held-out recall as not understood {recall:.2%}"
        )
    accuracy, recall = figures(args.threshold)
    print(
        f"threshold {args.threshold}: in-scope accuracy {accuracy:.2%} "
        f"(lost {100 * (base - accuracy):.2f} points), held-out recall as not understood "
        f"{recall:.2%}"
    )
    print("\nsweep: threshold  in-scope accuracy  points lost  held-out recall")
    for t in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        accuracy, recall = figures(t)
        print(f"       {t:9.2f}  {accuracy:17.2%}  {100 * (base - accuracy):11.2f}  {recall:15.2%}")


if __name__ == "__main__":
    main()
