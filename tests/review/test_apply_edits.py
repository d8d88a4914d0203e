"""The text edits ``frontdesk review apply`` makes: formatting and comments kept, the result
still reads as the same data plus the new example, phrasing or entry."""

from __future__ import annotations

import yaml

from gateway.review.apply import add_entry, add_example, add_phrasing

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello   # a comment stays
- intent: goodbye
  examples: |
    - bye
"""

FAQ = """\
# our FAQ
faq:
  - id: warranty
    question: Is there a warranty?
    phrasings:
      - how long is the guarantee
    answer: Two years.
  - id: '2'
    question: Q2?
    phrasings: [a, b]
    answer: A2
  - id: pickup
    question: Pick up in a store?
    answer: Yes.
"""


def test_an_example_goes_at_the_end_of_its_intent_block() -> None:
    new = add_example(NLU, "greet", "good morning [team]")
    assert new is not None
    data = yaml.safe_load(new)
    assert data["nlu"][0]["examples"].splitlines() == [
        "- hi", "- hello   # a comment stays", "- good morning (team)",
    ]  # fmt: skip
    assert data["nlu"][1]["examples"] == "- bye\n"
    assert add_example(NLU, "order_status", "where is it") is None


def test_a_phrasing_joins_block_and_flow_lists_or_starts_one() -> None:
    one = add_phrasing(FAQ, "warranty", 'is there a "guarantee"?')
    two = add_phrasing(one or "", "2", "c")
    three = add_phrasing(two or "", "pickup", "click and collect")
    assert three is not None and three.startswith("# our FAQ\n")
    entries = yaml.safe_load(three)["faq"]
    assert entries[0]["phrasings"] == ["how long is the guarantee", 'is there a "guarantee"?']
    assert entries[1]["phrasings"] == ["a", "b", "c"]
    assert entries[2]["phrasings"] == ["click and collect"]
    assert add_phrasing(FAQ, "nope", "x") is None


def test_a_new_entry_at_the_end_or_in_a_new_file() -> None:
    entries = yaml.safe_load(add_entry(FAQ, "gift", "gift cards?", "Yes: $10 to $500."))["faq"]
    assert entries[-1] == {"id": "gift", "question": "gift cards?", "answer": "Yes: $10 to $500."}
    fresh = yaml.safe_load(add_entry("", "a", "Q?", "A"))
    assert fresh == {"faq": [{"id": "a", "question": "Q?", "answer": "A"}]}
