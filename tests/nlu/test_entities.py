"""Entities: the data's regexes, lookup tables, synonyms and annotated values, and the
built-in numbers, order ids, emails and phone numbers; and the sentiment score."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.data import read_files
from nlu.entities import EntityExtractor
from nlu.sentiment import sentiment

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor.from_data(read_files([DATA / "shop.yml"]))


def found(extractor: EntityExtractor, text: str) -> list[tuple[str, object, str, str]]:
    return [(e.entity, e.value, e.text, e.extractor) for e in extractor.extract(text)]


def test_regex_from_the_data(extractor: EntityExtractor) -> None:
    assert ("zipcode", "94103-1234", "94103-1234", "regex") in found(extractor, "to 94103-1234")


def test_lookup_table_with_synonym(extractor: EntityExtractor) -> None:
    assert found(extractor, "return the Hat and the t-shirt") == [
        ("product", "Hat", "Hat", "lookup"),
        ("product", "t-shirt", "t-shirt", "lookup"),
    ]
    # a synonym maps the value of an entity found by any extractor
    custom = EntityExtractor(lookups={"product": ["trainers"]}, synonyms={"trainers": "shoes"})
    assert found(custom, "my Trainers") == [("product", "shoes", "Trainers", "lookup")]


def test_learned_from_annotations_uses_the_annotated_value(extractor: EntityExtractor) -> None:
    assert found(extractor, "refund my Sneakers") == [("product", "shoes", "Sneakers", "learned")]


def test_offsets_point_at_the_text(extractor: EntityExtractor) -> None:
    text = "my order AB12345 please"
    (entity,) = extractor.extract(text)
    assert text[entity.start : entity.end] == "AB12345"


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("order AB12345 is late", "order_id", "AB12345"),
        ("order #77701 is late", "order_id", "77701"),
        ("ref ord-2024-0042", "order_id", "ORD-2024-0042"),
        ("write to Ann.Lee@Example.com", "email", "ann.lee@example.com"),
        ("call me on (415) 555-0199", "phone_number", "+14155550199"),
        ("or +44 20 7946 0958", "phone_number", "+442079460958"),
        ("I want 3 of them", "number", 3),
        ("it cost 1,250.50", "number", 1250.5),
        ("twenty five of them", "number", 25),
    ],
)
def test_builtin_entities(
    extractor: EntityExtractor, text: str, entity: str, value: object
) -> None:
    assert [(e.entity, e.value) for e in extractor.extract(text)] == [(entity, value)]


def test_a_phone_number_is_not_also_numbers(extractor: EntityExtractor) -> None:
    assert [e.entity for e in extractor.extract("415-555-0199")] == ["phone_number"]


def test_round_trip_through_json(extractor: EntityExtractor) -> None:
    again = EntityExtractor.from_json(extractor.to_json())
    text = "refund my sneakers, zip 94103-1234, hat"
    assert again.extract(text) == extractor.extract(text)


def test_sentiment_sign() -> None:
    assert sentiment("This is terrible, I am furious and you are useless") < -0.5
    assert sentiment("Thanks so much, that was great!") > 0.5
    assert sentiment("where is my order") == 0.0
    assert -1 <= sentiment("NO NO NO!!! worst ever") <= 1
