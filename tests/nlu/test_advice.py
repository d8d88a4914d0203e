"""What ``frontdesk nlu eval`` tells an admin to fix (file:line of the examples involved) and
the threshold trade-off curve it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nlu.advice import confused_examples, few_examples, similar_examples
from nlu.data import read_files
from nlu.evaluate import tradeoff

ROOT = Path(__file__).parents[2]
BOT = """\
version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is my order
    - track my parcel
    - has my package shipped
- intent: refund
  examples: |
    - I want my money back
    - refund please
    - where is my order refund
- intent: out_of_scope
  examples: |
    - tell me a joke
    - what is the weather
"""


def test_few_and_near_duplicate_examples_are_named_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text(BOT)
    data = read_files([path])
    few = few_examples(data)
    assert few[0].startswith(f"{path}:5: intent 'order_status' has 3 examples")
    similar = similar_examples(data, threshold=0.6)
    assert len(similar) == 1 and similar[0].startswith(f"{path}:5: 'where is my order'")
    assert f"at {path}:12" in similar[0] and "(refund)" in similar[0]


def test_confused_pairs_name_their_examples() -> None:
    from nlu.data import Example

    rows = [Example(text=f"t{i}", intent="a", file="x.yml", line=i) for i in range(4)]
    lines = confused_examples(rows, ["b", "b", None, "a"])
    assert lines == ["intent 'a' is taken for 'b' 2 times, e.g.:", "  x.yml:0: 't0'",
                     "  x.yml:1: 't1'"]  # fmt: skip


def test_tradeoff_counts_unknown_intents_as_out_of_scope() -> None:
    truth = ["a", "a", "b", "new", "out_of_scope"]
    answers = [("a", 0.9), ("b", 0.4), ("b", 0.6), ("a", 0.3), (None, 0.8)]
    curve = dict((t, (acc, rec)) for t, acc, rec in tradeoff(truth, answers, {"a", "b"}))
    assert curve[0.0] == (2 / 3, 0.5)  # "new" answered "a": not flagged; out_of_scope: flagged
    assert curve[0.5] == (2 / 3, 1.0)  # 0.4 (wrong anyway) and 0.3 (the new intent) refused
    assert curve[0.9] == (1 / 3, 1.0)


def test_eval_prints_the_curve_and_what_to_fix(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(BOT)
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", "nlu", "eval", "--train", "nlu.yml", "--folds",
         "2", "--summary", "--no-cache"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert "threshold  in-scope accuracy  out-of-scope recall" in done.stdout, done.stderr
    assert "what to fix in the training data" in done.stdout
    assert "nlu.yml:5: intent 'order_status' has 3 examples" in done.stdout
    again = subprocess.run(
        [sys.executable, "-m", "frontdesk", "nlu", "eval", "--train", "nlu.yml", "--folds",
         "2", "--json", "--no-cache"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    report = json.loads(again.stdout)
    assert [row["threshold"] for row in report["tradeoff"]][:2] == [0.0, 0.1]
    assert any("has 3 examples" in line for line in report["advice"])
