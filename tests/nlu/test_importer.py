"""CSV (and SNIPS JSON) to Rasa NLU YAML."""

from __future__ import annotations

import json
from pathlib import Path

from nlu.data import read_files
from nlu.importer import read_any, read_csv, to_yaml


def test_csv_to_rasa_yaml_reads_back(tmp_path: Path) -> None:
    csv_file = tmp_path / "faq.csv"
    csv_file.write_text(
        "id;scenario;intent;utterance\n"
        "1;alarm;set;wake me up at 7\n"
        "2;alarm;set;set an alarm\n"
        "3;alarm;query;what alarms do I have\n"
        '4;alarm;query;"show my alarms; all of them"\n'
    )
    data = read_csv(csv_file, "utterance", ("scenario", "intent"))
    assert data.problems == []
    assert [(e.intent, e.line) for e in data.examples][:3] == [
        ("alarm_set", 2), ("alarm_set", 3), ("alarm_query", 4),
    ]  # fmt: skip
    out = tmp_path / "nlu.yml"
    out.write_text(to_yaml(data))
    again = read_files([out])
    assert again.problems == []
    assert sorted(e.text for e in again.examples) == sorted(e.text for e in data.examples)


def test_missing_column_is_a_problem(tmp_path: Path) -> None:
    csv_file = tmp_path / "faq.csv"
    csv_file.write_text("text,label\nhello,greet\n")
    (problem,) = read_csv(csv_file, "text", ("intent",)).problems
    assert str(problem).startswith(f"{csv_file}:1: no column 'intent'")


def test_snips_json_keeps_entities(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    chunks = [{"text": "weather in "}, {"text": "Paris", "entity": "city"}, {"text": " today"}]
    path.write_text(json.dumps({"GetWeather": [{"data": chunks}, {"data": [{"text": "rain?"}]}]}))
    data = read_any([path])
    example = data.examples[0]
    assert example.text == "weather in Paris today" and example.intent == "GetWeather"
    (entity,) = example.entities
    assert example.text[entity.start : entity.end] == "Paris" and entity.entity == "city"
    assert "- weather in [Paris](city) today" in to_yaml(data)
