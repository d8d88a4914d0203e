"""Reading a knowledge folder: FAQ YAML and Markdown articles, and every kind of problem with
its line."""

from __future__ import annotations

from pathlib import Path

from dialogs.knowledge import KnowledgeSpec, load_answers
from nlu.knowledge.loader import load_knowledge, read_article, read_faq
from nlu.settings import KnowledgeSettings

FAQ = """\
faq:
  - id: gift_cards
    question: Do you sell gift cards?
    phrasings: [gift voucher, gift certificate]
    answer: Yes, from $10.
    link: https://shop.example/gift
    tags: [payments]
  - id: warranty
    question: Is there a warranty?
    answer:
      text: "Two years, {customer_name}."
      buttons:
        - {title: Start a return, payload: /return_policy}
"""

ARTICLE = """\
---
title: Care guide
link: https://shop.example/care
---
# Care guide

## Washing clothes

Wash at **30°C** inside out.
See [the label](https://shop.example/labels).

## Removing stains

- Coffee: cold water.
- Grease: talc.
"""


def test_faq_entries_with_their_lines() -> None:
    entries, problems = read_faq(FAQ, "faq.yml")
    assert problems == []
    gift, warranty = entries
    assert (gift.id, gift.question, gift.phrasings) == (
        "gift_cards", "Do you sell gift cards?", ("gift voucher", "gift certificate"),
    )  # fmt: skip
    assert (gift.link, gift.tags, gift.source) == ("https://shop.example/gift", ("payments",),
                                                   "faq.yml:2")  # fmt: skip
    assert warranty.answer == "Two years, {customer_name}."
    buttons = [(b.title, b.payload) for b in warranty.buttons]
    assert buttons == [("Start a return", "/return_policy")]
    assert warranty.source == "faq.yml:8"


def test_article_sections_are_answers_with_title_and_link() -> None:
    entries, problems = read_article(ARTICLE, "kb/care.md")
    assert problems == []
    assert [e.id for e in entries] == ["care#washing-clothes", "care#removing-stains"]
    washing, stains = entries
    assert washing.title == "Care guide: Washing clothes"
    assert washing.link == "https://shop.example/care#washing-clothes"
    assert washing.line == 7
    # markup dropped, link text and URL kept; braces escaped for the template language
    assert washing.answer == "Wash at 30°C inside out. See the label (https://shop.example/labels)."
    assert stains.answer == "- Coffee: cold water.\n- Grease: talc."


def problems_of(tmp_path: Path, name: str, text: str) -> list[str]:
    folder = tmp_path / name.replace(".", "_")  # one folder per file
    folder.mkdir()
    (folder / name).write_text(text)
    return [str(p).replace(str(folder) + "/", "") for p in load_knowledge(folder).problems]


def test_each_faq_problem_has_its_line(tmp_path: Path) -> None:
    text = """\
faq:
  - id: a
    question: Q?
  - id: b
    question: Q2?
    answer: A2
    colour: red
  - id: bad id!
    question: Q3
    answer: A3
  - id: d
    question: Q4
    answer: {text: A4, buttons: [{title: only a title}]}
  - id: b
    question: Q5
    answer: A5
"""
    assert problems_of(tmp_path, "faq.yml", text) == [
        "faq.yml:2: FAQ entry: answer is required",
        "faq.yml:7: unknown key colour (allowed: id, question, phrasings, answer, link, tags)",
        "faq.yml:8: id 'bad id!': letters, digits and _ . : - only",
        "faq.yml:13: a button needs title and payload",
    ]


def test_duplicate_ids_name_both_places(tmp_path: Path) -> None:
    text = FAQ + "  - id: gift_cards\n    question: again?\n    answer: again\n"
    assert problems_of(tmp_path, "faq.yml", text) == [
        "faq.yml:14: id gift_cards is also used at faq.yml:2"
    ]


def test_invalid_yaml_and_wrong_shape(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "a.yml", "faq:\n  - id: [unclosed\n") == [
        "a.yml:3: invalid YAML: expected ',' or ']', but got '<stream end>'"
    ]
    assert problems_of(tmp_path, "b.yml", "questions:\n  - hi\n")[-1] == (
        "b.yml:1: an FAQ file holds faq: a list of entries (id, question, answer, …)"
    )


def test_each_article_problem_has_its_line(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "a.md", "just text, no heading\n") == [
        "a.md:1: text before the first heading (# Title) belongs to no section",
        "a.md:1: an article needs headings (# Title)",
    ]
    assert problems_of(tmp_path, "b.md", "---\ntitle: x\nauthor: me\n---\n# T\ntext\n") == [
        "b.md:3: front matter: unknown key author (allowed: title, link, tags, id)",
    ]
    assert problems_of(tmp_path, "c.md", "---\ntitle: x\n# T\n") == [
        "c.md:1: front matter: no closing --- line"
    ]
    assert problems_of(tmp_path, "d.md", "# T\n## Fees\none\n## Fees\ntwo\n") == [
        "d.md:4: heading 'Fees' repeats line 2 (ids must differ)"
    ]


def test_answer_templates_are_checked_like_dialog_templates(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "faq.yml").write_text(
        "faq:\n  - id: a\n    question: Q?\n    answer: 'Hi {customer_name}, {tier}'\n"
        "  - id: b\n    question: Q2?\n    answer: 'broken {'\n"
    )
    spec = KnowledgeSpec(str(folder), KnowledgeSettings(encoder="none"))
    answers, problems = load_answers(spec, {"order_id": None})
    assert answers is None
    assert [f"{Path(p.file).name}:{p.line}: {p.message}" for p in problems] == [
        "faq.yml:4: answer of a uses unknown slot tier",
        "faq.yml:7: invalid template 'broken {': Single '{' encountered in format string",
    ]
