"""Knowledge-base retrieval on covid-faq (shared/datasets/covid-faq): 129 FAQ entries, 177 real
user questions. Prints top-1 / top-3 hit rates over all questions (as the dataset's SOURCE.txt
reports them: a question labelled -1 is never a hit) and over the 56 labelled with an entry,
and the precision of the answers given at each threshold on those 56; lexical alone and, when
a sentence encoder is installed, fused with it. Also the time per question.

Usage: python benchmarks/kb_retrieval.py [--encoder none|embeddings] [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nlu.knowledge.encoder import resolve_encoder
from nlu.knowledge.evaluate import evaluate
from nlu.knowledge.importer import faq_from_rows, faq_yaml, read_csv
from nlu.knowledge.loader import load_knowledge
from nlu.knowledge.retrieval import Retriever

DATA = os.environ.get(
    "COVID_FAQ", str(Path(__file__).resolve().parents[2] / "shared/datasets/covid-faq")
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--encoder", default="none", choices=("none", "embeddings"))
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "faq_db.csv").exists():
        data = Path("/work/shared/datasets/covid-faq")
    rows, header = read_csv(data / "faq_db.csv")
    entries = faq_from_rows(rows, header, file="faq_db.csv", id_col="ID",
                            question_col="Question", answer_col="Answer")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "faq.yml").write_text(faq_yaml(entries))
        kb = load_knowledge(tmp)
    with open(data / "validation.csv", encoding="utf-8") as f:
        tests = list(csv.DictReader(f))
    texts = [t["Question"] for t in tests]
    gold = [frozenset(i.strip() for i in t["Answer"].split(",")) for t in tests]
    encoder = resolve_encoder(args.encoder)
    start = time.perf_counter()
    retriever = Retriever(kb.entries, threshold=0.5 if encoder else 0.4, encoder=encoder)
    built = time.perf_counter() - start
    report = evaluate(retriever, texts, gold)
    n, k = report.questions, report.answerable
    print(f"# covid-faq: {len(kb.entries)} entries, {n} questions ({k} labelled with an entry)")
    print(f"# scorer: TF-IDF words+chars{' + ' + args.encoder if encoder else ''}; "
          f"index built in {built * 1000:.0f} ms")  # fmt: skip
    print(f"top-1 all questions   {report.top1 * k / n:.3f}")
    print(f"top-3 all questions   {report.top3 * k / n:.3f}")
    print(f"top-1 labelled        {report.top1:.3f}")
    print(f"top-3 labelled        {report.top3:.3f}")
    labelled = [(t, g) for t, g in zip(texts, gold, strict=True) if g - {"-1"}]
    only = evaluate(retriever, [t for t, _ in labelled], [g for _, g in labelled])
    print("threshold  answered  right   (labelled questions)")
    for p in only.tradeoff:
        if p.threshold <= 0.7:
            print(f"  {p.threshold:.2f}     {p.coverage:6.1%}  {p.precision:6.1%}")
    times = []
    for text in texts:
        t0 = time.perf_counter()
        retriever.ask(text)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"per question: p50 {statistics.median(times) * 1000:.2f} ms, "
          f"p99 {times[int(len(times) * 0.99)] * 1000:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
