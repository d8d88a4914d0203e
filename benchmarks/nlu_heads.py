"""Candidate classifier heads over the sentence encoder, compared on dev splits of HWU64's
*training* data (never the test set): for each seed, K examples an intent are sampled to train
and 15 other training examples an intent are the dev set (K=0: an 80/20 split of all of it).
Prints the mean top-1 dev accuracy (no threshold) of each head and of z-scored ensembles with
the ``hybrid`` SVM (TF-IDF + the embedding weighted 2, as nlu/model.py builds it).

The encodings of HWU64's training texts are cached in /tmp/frontdesk_hwu64_train.npy.

Usage: HWU64=/work/shared/datasets/hwu64/kfold1 python benchmarks/nlu_heads.py [K] [--seeds 3]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import sys
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nlu import encoder
from nlu.featurize import Featurizer
from nlu.importer import read_any

HWU = os.environ.get("HWU64", "/work/shared/datasets/hwu64/kfold1")
CACHE = "/tmp/frontdesk_hwu64_train.npy"
Array = np.ndarray[Any, np.dtype[Any]]


def z(s: Array) -> Array:
    out: Array = (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-9)
    return out


def heads(xt: Any, xd: Any, et: Array, ed: Array, yt: Array, n: int, seed: int) -> dict[str, Array]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import LinearSVC

    def svm(a: Any, b: Any) -> Array:
        model = LinearSVC(C=1.0, class_weight="balanced", dual="auto").fit(a, yt)
        out: Array = model.decision_function(b)
        return out

    s: dict[str, Array] = {}
    for w in (2.0, 3.0):
        s[f"hybrid (SVM, emb weight {w:g})"] = svm(
            sp.hstack([xt, sp.csr_matrix(et * w)]).tocsr(),
            sp.hstack([xd, sp.csr_matrix(ed * w)]).tocsr(),
        )
    s["tfidf SVM"] = svm(xt, xd)
    for c in (10.0, 100.0):
        lr = LogisticRegression(C=c, max_iter=2000).fit(et, yt)
        s[f"LR on emb, C {c:g}"] = lr.decision_function(ed)
    mlp = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=300, random_state=0)
    s["MLP(256) on emb"] = np.log(mlp.fit(et, yt).predict_proba(ed) + 1e-9)
    rng = np.random.default_rng(seed)  # augmentation: 4 gaussian-perturbed copies, renormalised
    ea = np.vstack([et] + [et + rng.normal(0, 0.02, et.shape) for _ in range(4)])
    ea /= np.linalg.norm(ea, axis=1, keepdims=True)
    aug = LogisticRegression(C=100.0, max_iter=2000).fit(ea, np.tile(yt, 5))
    s["LR on emb + perturbed copies"] = aug.decision_function(ed)
    protos = np.vstack([et[yt == c].mean(0) for c in range(n)])
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    s["prototype cosine"] = ed @ protos.T
    sims = ed @ et.T
    s["1-NN cosine"] = np.vstack([sims[:, yt == c].max(1) for c in range(n)]).T
    h = z(s["hybrid (SVM, emb weight 2)"])
    s["tfidf SVM + LR C100"] = z(s["tfidf SVM"]) + z(s["LR on emb, C 100"])
    s["hybrid + LR C100"] = h + z(s["LR on emb, C 100"])
    s["hybrid + LR C10"] = h + z(s["LR on emb, C 10"])
    s["hybrid + MLP"] = h + z(s["MLP(256) on emb"])
    s["hybrid + LR augmented"] = h + z(s["LR on emb + perturbed copies"])
    s["hybrid + prototype"] = h + z(s["prototype cosine"])
    s["hybrid + 0.5 prototype"] = h + 0.5 * z(s["prototype cosine"])
    s["hybrid + LR C100 + 0.5 prototype"] = s["hybrid + LR C100"] + 0.5 * z(s["prototype cosine"])
    s["hybrid + 0.5 1-NN"] = h + 0.5 * z(s["1-NN cosine"])
    return s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("k", type=int, nargs="?", default=10, help="examples an intent; 0: all")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    data = read_any(
        sorted(glob.glob(f"{HWU}/train/*.csv")),
        text_column="answer_from_anno",
        intent_columns=("scenario", "intent"),
    )
    texts = [e.text for e in data.examples]
    if not os.path.exists(CACHE):
        start = time.perf_counter()
        batches = [encoder.encode(texts[i : i + 256]) for i in range(0, len(texts), 256)]
        np.save(CACHE, np.vstack(batches))
        print(f"encoded {len(texts)} texts in {time.perf_counter() - start:.1f} s")
    emb = np.load(CACHE)
    labels = sorted(data.intents)
    y = np.array([labels.index(e.intent) for e in data.examples])
    results: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        rng = random.Random(seed)
        tr: list[int] = []
        dv: list[int] = []
        for c in range(len(labels)):
            idx = [int(i) for i in np.where(y == c)[0]]
            rng.shuffle(idx)
            cut = args.k if args.k else int(len(idx) * 0.8)
            tr += idx[:cut]
            dv += idx[cut : cut + 15] if args.k else idx[cut:]
        featurizer = Featurizer().fit([texts[i] for i in tr])
        xt = featurizer.transform([texts[i] for i in tr])
        xd = featurizer.transform([texts[i] for i in dv])
        scores = heads(xt, xd, emb[tr], emb[dv], y[tr], len(labels), seed)
        for name, s in scores.items():
            results.setdefault(name, []).append(float((s.argmax(1) == y[dv]).mean()))
    print(f"HWU64 dev top-1, {args.k or 'all'} an intent, {args.seeds} seeds")
    for name, accs in results.items():
        print(f"{name:36s} {np.mean(accs):.3f}  ({', '.join(f'{a:.3f}' for a in accs)})")


if __name__ == "__main__":
    main()
