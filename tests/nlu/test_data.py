"""The Rasa NLU YAML reader: every annotation form, synonyms, regexes, lookups, and each kind
of problem reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.data import parse_annotated, read_files

DATA = Path(__file__).parent / "data"
FINANCIAL = Path(__file__).parents[3] / "shared/datasets/rasa-financial-demo/nlu.yml"


def write(tmp_path: Path, text: str, name: str = "nlu.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_all_annotation_forms() -> None:
    text, entities = parse_annotated(
        "send [50](amount) to [Ann](name:Anna) from [my savings]"
        '{"entity": "account", "value": "savings", "role": "source", "group": "1"}'
    )
    assert text == "send 50 to Ann from my savings"
    got = [(e.entity, e.value, text[e.start : e.end], e.role, e.group) for e in entities]
    assert got == [
        ("amount", "50", "50", None, None),
        ("name", "Anna", "Ann", None, None),
        ("account", "savings", "my savings", "source", "1"),
    ]


def test_brackets_without_annotation_are_plain_text() -> None:
    assert parse_annotated("see [1] above") == ("see [1] above", ())


def test_reads_intents_synonyms_regexes_and_lookups() -> None:
    data = read_files([DATA / "shop.yml"])
    assert data.problems == []
    assert len(data.intents) == 6
    assert data.synonyms["sneakers"] == "shoes"  # from an annotation and from synonym:
    assert data.synonyms["trainers"] == "shoes"
    assert data.regexes == [("zipcode", r"\b\d{5}-\d{4}\b")]
    assert data.lookups["product"] == ["jacket", "shoes", "t-shirt", "hat"]
    example = next(e for e in data.examples if e.entities and e.entities[0].text == "sneakers")
    assert example.line == 47  # the exact line inside the examples block
    assert "[sneakers](product:shoes)" in (DATA / "shop.yml").read_text().splitlines()[46]


def test_reads_several_files(tmp_path: Path) -> None:
    a = write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - one\n    - two\n", "a.yml")
    b = write(tmp_path, "nlu:\n- intent: b\n  examples: |\n    - three\n    - four\n", "b.yml")
    data = read_files([a, b])
    assert data.problems == [] and data.intents == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("nlu:\n- intent: a\n  examples: |\n    - one\n   - bad: [\n", 5, "invalid YAML"),
        (
            "nlu:\n- intent: a\n  examples: |\n    - one\n    - pay [5](amount\n    - two\n",
            5,
            "unclosed '('",
        ),
        (
            'nlu:\n- intent: a\n  examples: |\n    - one\n    - two\n    - [x]{"entity": 1}\n',
            6,
            'needs an "entity"',
        ),
        (
            'nlu:\n- intent: a\n  examples: |\n    - one\n    - [x]{"entity": "e", "colour": 1}\n',
            5,
            "unknown key 'colour'",
        ),
        ("nlu:\n- intent: a\n  examples: |\n    - only one\n", 4, "at least 2 are needed"),
        ("nlu:\n- intent: a\n  example: |\n    - one\n", 3, "unknown key 'example'"),
        ("version: '3.1'\nnlux: []\n", 2, "unknown key 'nlux'"),
        ("nlu:\n- regex: r\n  examples: |\n    - (unclosed\n", 4, "invalid pattern"),
        ("nlu:\n- intent: a\n  examples: |\n    - one\n    two\n", 5, "expected '- '"),
    ],
)
def test_problems_have_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    problems = read_files([path]).problems
    assert any(p.line == line and message in p.message for p in problems), problems
    assert all(str(p).startswith(f"{path}:") for p in problems)


def test_same_example_under_two_intents_names_both_places(tmp_path: Path) -> None:
    a = write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - hello\n    - hi\n", "a.yml")
    b = write(tmp_path, "nlu:\n- intent: b\n  examples: |\n    - bye\n    - Hello\n", "b.yml")
    problems = read_files([a, b]).problems
    assert [str(p) for p in problems] == [
        f"{b}:5: example 'Hello' is under intent 'b' and also under 'a' at {a}:4"
    ]


def test_minimum_examples_is_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - one\n    - two\n")
    assert read_files([path]).problems == []
    assert "at least 3" in read_files([path], min_examples=3).problems[0].message


@pytest.mark.skipif(not FINANCIAL.exists(), reason="shared datasets not present")
def test_rasa_financial_demo_reads() -> None:
    data = read_files([FINANCIAL])
    assert len(data.intents) == 17 and len(data.examples) > 500
    assert data.synonyms["embelm"] == "emblem"
    # The one problem is real: the demo has this example under two intents.
    assert [(p.line, p.message.split(" is ")[0]) for p in data.problems] == [
        (423, "example 'what places have I spent money?'")
    ]
