"""``frontdesk nlu eval / parse / import`` as a user runs them, and ``validate_nlu``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from frontdesk.commands.nlu import validate_nlu
from frontdesk.config import Settings
from nlu.settings import NluSettings

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parents[2]


def run(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", "nlu", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_parse_one_json_per_line(tmp_path: Path) -> None:
    done = run(
        tmp_path, "parse", "--train", str(DATA / "shop.yml"),
        stdin="where is my order AB12345?\nzzzz qqqq\n\nI am furious, cancel it now!\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["text"] for line in lines] == [
        "where is my order AB12345?", "zzzz qqqq", "I am furious, cancel it now!",
    ]  # fmt: skip
    first, gibberish, angry = lines
    assert first["intent"] == "order_status"
    assert first["entities"][0] | {"extractor": ""} == {
        "entity": "order_id", "value": "AB12345", "text": "AB12345", "start": 18, "end": 25,
        "extractor": "",
    }  # fmt: skip
    assert first["ranking"][0]["name"] == "order_status"
    assert gibberish["intent"] is None
    assert angry["intent"] == "cancel_order" and angry["sentiment"] < 0
    # trained once, cached under nlu.model_dir
    assert len(list((tmp_path / ".frontdesk/models").iterdir())) == 1


def test_eval_json_figures(tmp_path: Path) -> None:
    done = run(
        tmp_path, "eval", "--train", str(DATA / "shop.yml"), "--test", str(DATA / "shop.yml"),
        "--json", "--threshold", "0.2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["examples"] == 60 and report["accuracy"] > 0.9
    assert report["out_of_scope_examples"] == 8 and report["out_of_scope_recall"] > 0.5
    assert set(report["per_intent"]["refund"]) == {"precision", "recall", "f1", "support"}
    assert report["parse_p99_ms"] > 0 and report["train_seconds"] > 0
    assert isinstance(report["confused"], list)


def test_eval_text_report_and_floor(tmp_path: Path) -> None:
    done = run(tmp_path, "eval", "--train", str(DATA / "shop.yml"), "--floor", "0.99")
    assert done.returncode == 1
    assert "5-fold cross-validation" in done.stdout and "macro-F1" in done.stdout
    assert "below the floor" in done.stderr


def test_import_csv(tmp_path: Path) -> None:
    (tmp_path / "faq.csv").write_text("question,topic\nhi,greet\nhello,greet\nbye,bye\nciao,bye\n")
    done = run(tmp_path, "import", "faq.csv", "--text", "question", "--intent", "topic", "-o",
               "nlu.yml")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote 4 examples of 2 intents to nlu.yml" in done.stderr
    assert (
        "- intent: greet\n  examples: |\n    - hi\n    - hello\n"
        in (tmp_path / "nlu.yml").read_text()
    )


def test_validate_nlu_reports_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "nlu.yml"
    bad.write_text("nlu:\n- intent: a\n  examples: |\n    - one\n    - [x](\n")
    settings = Settings(nlu=NluSettings(data=(str(tmp_path / "*.yml"),)))
    assert [str(p).split(": ")[0] for p in validate_nlu(settings)] == [f"{bad}:4", f"{bad}:5"]
    nothing = Settings(nlu=NluSettings(data=(str(tmp_path / "none/*.yml"),)))
    assert "no training data file matches" in validate_nlu(nothing)[0].message
    good = Settings(nlu=NluSettings(data=(str(DATA / "shop.yml"),)))
    assert validate_nlu(good) == []
