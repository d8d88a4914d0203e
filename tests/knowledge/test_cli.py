"""``frontdesk kb import / ask / eval`` and the knowledge part of ``frontdesk validate``, run as
a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
CSV = """id,question,answer,topic
gift_cards,Do you sell gift cards?,"Yes, from $10 to $500.",payments
warranty,Is there a warranty on your products?,"Two years
against defects.",returns
pickup,Can I pick up my order in a store?,Yes: click and collect.,delivery
"""


def frontdesk(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def imported(tmp_path: Path) -> Path:
    (tmp_path / "faq.csv").write_text(CSV)
    done = frontdesk(tmp_path, "kb", "import", "faq.csv", "--id", "id", "--question", "question",
                     "--answer", "answer", "--out", "kb/faq.yml")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote 3 FAQ entries to kb/faq.yml" in done.stderr
    return tmp_path / "kb"


def test_import_writes_faq_yaml_the_loader_reads(tmp_path: Path) -> None:
    from nlu.knowledge.loader import load_knowledge

    found = load_knowledge(imported(tmp_path))
    assert found.problems == []
    assert [(e.id, e.question) for e in found.entries] == [
        ("gift_cards", "Do you sell gift cards?"),
        ("warranty", "Is there a warranty on your products?"),
        ("pickup", "Can I pick up my order in a store?"),
    ]
    assert found.entries[1].answer == "Two years\nagainst defects."


def test_import_to_stdout_and_its_errors(tmp_path: Path) -> None:
    (tmp_path / "faq.csv").write_text(CSV)
    done = frontdesk(tmp_path, "kb", "import", "faq.csv", "--id", "id", "--question", "question",
                     "--answer", "answer")  # fmt: skip
    assert done.returncode == 0 and done.stdout.count("- id:") == 3
    missing = frontdesk(tmp_path, "kb", "import", "faq.csv", "--id", "ID", "--question",
                        "question", "--answer", "answer")  # fmt: skip
    assert missing.returncode == 1
    columns = "id, question, answer, topic"
    assert missing.stderr.strip() == f"faq.csv:1: no column 'ID' (columns: {columns})"
    (tmp_path / "dup.csv").write_text("id,q,a\nx,Q1,A1\n,Q2,A2\n")
    empty = frontdesk(tmp_path, "kb", "import", "dup.csv", "--id", "id", "--question", "q",
                      "--answer", "a")  # fmt: skip
    assert (empty.returncode, empty.stderr.strip()) == (1, "dup.csv:3: empty id")


def test_ask_one_json_line_per_question(tmp_path: Path) -> None:
    kb = imported(tmp_path)
    done = frontdesk(tmp_path, "kb", "ask", "--kb", str(kb),
                     stdin="do you sell gift cards\n\nwhat is the capital of peru\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    gift, peru = (json.loads(line) for line in done.stdout.splitlines())
    assert set(gift) == {"text", "id", "score", "source", "candidates"}
    assert (gift["text"], gift["id"], gift["source"]) == (
        "do you sell gift cards", "gift_cards", f"{kb}/faq.yml:3",
    )  # fmt: skip
    assert gift["candidates"][0] == {"id": "gift_cards", "score": gift["score"]}
    assert [c["score"] for c in gift["candidates"]] == sorted(
        (c["score"] for c in gift["candidates"]), reverse=True
    )
    assert peru["id"] is None and peru["source"] is None
    assert peru["score"] < gift["score"]


def test_eval_reports_hit_rates_and_precision(tmp_path: Path) -> None:
    kb = imported(tmp_path)
    (tmp_path / "test.csv").write_text(
        "text,ids\ngift vouchers for sale?,gift_cards\nhow long is the warranty,warranty\n"
        'click and collect in a store,"pickup,gift_cards"\nwhat is the weather,-1\n'
    )
    done = frontdesk(tmp_path, "kb", "eval", "--kb", str(kb), "--test", "test.csv", "--text",
                     "text", "--id", "ids", "--json", "--threshold", "0.3")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["questions"], report["answerable"]) == (4, 3)
    assert report["top1"] == 1.0 and report["top3"] == 1.0
    assert report["at_threshold"]["threshold"] == 0.3
    assert report["at_threshold"]["answered"] == 3  # not the weather
    assert report["at_threshold"]["precision"] == 1.0
    assert [p["threshold"] for p in report["tradeoff"]][:3] == [0.05, 0.1, 0.15]
    text = frontdesk(tmp_path, "kb", "eval", "--kb", str(kb), "--test", "test.csv", "--text",
                     "text", "--id", "ids")  # fmt: skip
    assert "top-1 hit rate   1.000" in text.stdout


def test_validate_reports_knowledge_problems(tmp_path: Path) -> None:
    kb = tmp_path / "dialogs" / "knowledge"
    kb.mkdir(parents=True)
    for name in ("flows.yml",):
        (tmp_path / "dialogs" / name).write_text(
            "flows:\n  hi:\n    triggers: [{keywords: [hi]}]\n    steps: [{text: Hello}]\n"
        )
    (kb / "faq.yml").write_text("faq:\n  - id: a\n    question: Q?\n")
    (kb / "guide.md").write_text("no heading here\n")
    (tmp_path / "config.yml").write_text(
        "dialogs: {enabled: true, path: dialogs}\nnlu: {data: []}\n"
    )
    done = frontdesk(tmp_path, "validate")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "dialogs/knowledge/faq.yml:2: FAQ entry: answer is required" in lines
    assert "dialogs/knowledge/guide.md:1: an article needs headings (# Title)" in lines
