"""Choose the classifier's settings on a dev split of HWU64's *training* data (fold 1):
15% of train held out, stratified; the test set is never looked at. Prints dev accuracy
for each setting. Usage: python benchmarks/nlu_tune.py [--embeddings]"""

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embeddings", action="store_true")
    args = parser.parse_args()
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
    featurizer = Featurizer().fit(tr)
    a, b = featurizer.transform(tr), featurizer.transform(dev)
    weights = [0.0]
    if args.embeddings:
        from nlu.embeddings import encode

        ea, eb = encode(tr), encode(dev)
        weights = [1.0, 2.0, 3.0]
    for w in weights:
        xa, xb = a, b
        if w:
            xa = sp.hstack([a, sp.csr_matrix(ea * w)]).tocsr()
            xb = sp.hstack([b, sp.csr_matrix(eb * w)]).tocsr()
        for c in (0.25, 0.5, 1.0):
            for balanced in (False, True):
                model = LinearClassifier.fit(xa, ytr, c=c, balanced=balanced, folds=0)
                pred = np.array(model.labels)[model.scores(xb).argmax(axis=1)]
                acc = float(np.mean(pred == np.array(ydev)))
                print(f"embedding_weight={w} C={c} balanced={balanced}: dev accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
