"""Choose the classifier's settings on a dev split of HWU64's *training* data (fold 1):
15% of train held out, stratified; the test set is never looked at. Prints dev accuracy
for each setting. ``--data snips`` does the same on SNIPS' training files.
Usage: python benchmarks/nlu_tune.py [--data hwu64|snips] [--embeddings]"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,unused-ignore]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nlu.classifier import LinearClassifier
from nlu.featurize import Featurizer
from nlu.importer import read_any

HWU = os.environ.get("HWU64", "../shared/datasets/hwu64/kfold1")
SNIPS = os.environ.get("SNIPS", "../shared/datasets/snips")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embeddings", action="store_true")
    parser.add_argument("--data", choices=("hwu64", "snips"), default="hwu64")
    args = parser.parse_args()
    if args.data == "snips":
        data = read_any(sorted(glob.glob(f"{SNIPS}/*/train_*_full.json")))
    else:
        data = read_any(
            sorted(glob.glob(f"{HWU}/train/*.csv")),
            text_column="answer_from_anno",
            intent_columns=("scenario", "intent"),
        )
    texts = [e.text for e in data.examples]
    labels = [e.intent for e in data.examples]
    tr, dev, ytr, ydev = train_test_split(
        texts, labels, test_size=0.15, random_state=0, stratify=labels
    )
    if not args.embeddings:
        for window, weight in ((1, 0.0), *((w, v) for w in (4, 8) for v in (0.5, 0.75, 1.0))):
            featurizer = Featurizer(pair_window=window, pair_weight=weight).fit(tr)
            a, b = featurizer.transform(tr), featurizer.transform(dev)
            for c in (0.5, 1.0):
                acc = _dev_accuracy(a, b, ytr, ydev, c, True)
                print(f"pair_window={window} pair_weight={weight} C={c}: dev accuracy {acc:.4f}")
        return
    from nlu.embeddings import encode

    featurizer = Featurizer().fit(tr)
    a, b = featurizer.transform(tr), featurizer.transform(dev)
    ea, eb = encode(tr), encode(dev)
    for w in (1.0, 2.0, 3.0):
        xa = sp.hstack([a, sp.csr_matrix(ea * w)]).tocsr()
        xb = sp.hstack([b, sp.csr_matrix(eb * w)]).tocsr()
        for c in (0.25, 0.5, 1.0):
            for balanced in (False, True):
                acc = _dev_accuracy(xa, xb, ytr, ydev, c, balanced)
                print(f"embedding_weight={w} C={c} balanced={balanced}: dev accuracy {acc:.4f}")


def _dev_accuracy(
    a: sp.csr_matrix, b: sp.csr_matrix, ytr: list[str], ydev: list[str], c: float, balanced: bool
) -> float:
    model = LinearClassifier.fit(a, ytr, c=c, balanced=balanced, folds=0)
    pred = np.array(model.labels)[model.scores(b).argmax(axis=1)]
    return float(np.mean(pred == np.array(ydev)))


if __name__ == "__main__":
    main()
