"""What an admin should fix in the NLU training data, as ``file:line: message`` lines: intents
with too few examples, examples of two intents that are nearly the same text, and the
examples behind the intents most confused with each other (from cross-validation or a test)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from nlu.data import Example, NluData

FEW_EXAMPLES = 8  # below: say so (few-shot accuracy rises steeply up to about 10, docs/nlu.md)
SIMILAR = 0.85  # cosine of the TF-IDF vectors above which two examples read as the same
MAX_PAIRS = 20
MAX_EXAMPLES = 5000  # the similarity check compares every pair: skipped above


def _where(example: Example) -> str:
    return f"{example.file or '?'}:{example.line}"


def few_examples(data: NluData, minimum: int = FEW_EXAMPLES) -> list[str]:
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for e in data.examples:
        by_intent[e.intent].append(e)
    return [
        f"{_where(rows[0])}: intent {intent!r} has {len(rows)} examples; "
        f"{minimum} or more varied ones make it reliably understood"
        for intent, rows in sorted(by_intent.items())
        if len(rows) < minimum
    ]


def similar_examples(data: NluData, threshold: float = SIMILAR) -> list[str]:
    """Pairs of examples under different intents whose word and character n-grams nearly match."""
    from nlu.featurize import Featurizer

    examples = data.examples
    if len(examples) < 2 or len(examples) > MAX_EXAMPLES:
        return []
    texts = [e.text for e in examples]
    x = Featurizer().fit(texts).transform(texts)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    sims = (x @ x.T).tocoo()
    found = []
    for i, j, value in zip(sims.row, sims.col, sims.data, strict=True):
        if i < j and examples[i].intent != examples[j].intent:
            cosine = value / (norms[i] * norms[j])
            if cosine >= threshold:
                found.append((cosine, i, j))
    out = []
    for cosine, i, j in sorted(found, reverse=True)[:MAX_PAIRS]:
        a, b = examples[i], examples[j]
        out.append(
            f"{_where(a)}: {a.text!r} ({a.intent}) is almost the same as {b.text!r} "
            f"({b.intent}) at {_where(b)} (similarity {cosine:.2f}): keep it under one intent"
        )
    return out


def confused_examples(
    examples: Sequence[Example], predicted: Sequence[str | None], pairs: int = 5, each: int = 3
) -> list[str]:
    """For the ``pairs`` most frequent (intent, wrongly predicted intent) pairs, the examples."""
    wrong = [(e, p) for e, p in zip(examples, predicted, strict=True) if p and p != e.intent]
    counts = Counter((e.intent, p) for e, p in wrong)
    out = []
    for (intent, other), n in counts.most_common(pairs):
        cases = [e for e, p in wrong if e.intent == intent and p == other][:each]
        out.append(f"intent {intent!r} is taken for {other!r} {n} times, e.g.:")
        out += [f"  {_where(e)}: {e.text!r}" for e in cases]
    return out


def advice(
    data: NluData, examples: Sequence[Example] = (), predicted: Sequence[str | None] = ()
) -> list[str]:
    """All of it: few examples, near-duplicates across intents, the confused pairs' examples."""
    return few_examples(data) + similar_examples(data) + confused_examples(examples, predicted)
