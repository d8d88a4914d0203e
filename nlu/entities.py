"""Entity extraction: the data's regexes and lookup tables, the values annotated in its
examples, and built-in numbers, order ids, emails and phone numbers; synonyms normalise
values. Where two matches overlap, the earlier kind in that order wins, then the longer."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from nlu.data import NluData
from nlu.result import Entity

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
# Order-like ids: "#12345", or letters and digits together with at least 3 digits
# ("AB12345", "ORD-2024-0042"); plain words and plain numbers are not ids.
_ORDER_ID = re.compile(
    r"(?<![\w#])#\d{3,}\b|\b(?=[A-Za-z0-9-]*[A-Za-z])(?=(?:[A-Za-z-]*\d){3})"
    r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b"
)
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_NUMBER_WORDS = re.compile(
    rf"\b(?:{_NUMBER_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*\b", re.IGNORECASE
)

# Order of precedence when matches overlap.
_PRIORITY = {"regex": 0, "lookup": 1, "learned": 2, "builtin": 3}


def words_to_number(text: str) -> int | None:
    total = current = 0
    for word in re.split(r"[\s-]+", text.lower()):
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
    return total + current


def _number(text: str) -> int | float:
    plain = text.replace(",", "")
    return float(plain) if "." in plain else int(plain)


_TOKEN = re.compile(r"\w+|[^\w\s]")


class PhraseIndex:
    """Finds known phrases (case-insensitive, whole tokens, longest first) in time linear in
    the message, however many phrases there are: lookup tables and annotated values can hold
    thousands, where one big regex alternation would be slow."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.keys: dict[str, str] = {}  # normalised tokens -> the phrase as given
        self.longest = 0
        for phrase in phrases:
            tokens = _TOKEN.findall(phrase.lower())
            if tokens:
                self.keys.setdefault(" ".join(tokens), phrase)
                self.longest = max(self.longest, len(tokens))

    def __bool__(self) -> bool:
        return bool(self.keys)

    def finditer(self, text: str) -> Iterable[tuple[int, int, str]]:
        """(start, end, phrase as given) for each match, left to right, not overlapping."""
        spans = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
        i = 0
        while i < len(spans):
            for n in range(min(self.longest, len(spans) - i), 0, -1):
                key = " ".join(t for _, _, t in spans[i : i + n])
                phrase = self.keys.get(key)
                if phrase is not None:
                    yield spans[i][0], spans[i + n - 1][1], phrase
                    i += n
                    break
            else:
                i += 1


@dataclass(frozen=True, slots=True)
class _Learned:
    entity: str
    value: str
    role: str | None
    group: str | None


@dataclass(slots=True)
class EntityExtractor:
    regexes: list[tuple[str, str]] = field(default_factory=list)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)
    learned: dict[str, _Learned] = field(default_factory=dict)  # lower-cased text -> entity
    phone_region: str = "US"
    _compiled: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)
    _lookup_index: list[tuple[str, PhraseIndex]] = field(default_factory=list)
    _learned_index: PhraseIndex = field(default_factory=lambda: PhraseIndex(()))

    def __post_init__(self) -> None:
        self._compiled = [(name, re.compile(p, re.IGNORECASE)) for name, p in self.regexes]
        self._lookup_index = [
            (name, index) for name, values in self.lookups.items() if (index := PhraseIndex(values))
        ]
        self._learned_index = PhraseIndex(self.learned)

    @classmethod
    def from_data(cls, data: NluData) -> EntityExtractor:
        """The annotated values become a dictionary; where one text was annotated as
        several entities, the most frequent annotation wins."""
        votes: dict[str, dict[_Learned, int]] = {}
        for example in data.examples:
            for a in example.entities:
                key = a.text.lower()
                found = votes.setdefault(key, {})
                item = _Learned(a.entity, a.value, a.role, a.group)
                found[item] = found.get(item, 0) + 1
        learned = {k: max(v, key=lambda item: v[item]) for k, v in votes.items()}
        return cls(
            regexes=list(data.regexes),
            lookups={k: list(v) for k, v in data.lookups.items()},
            synonyms=dict(data.synonyms),
            learned=learned,
        )

    def extract(self, text: str) -> tuple[Entity, ...]:
        found: list[Entity] = []
        for name, pattern in self._compiled:
            found += [
                self._entity(name, text, m.start(), m.end(), "regex")
                for m in pattern.finditer(text)
                if m.group()
            ]
        for name, index in self._lookup_index:
            for start, end, _ in index.finditer(text):
                found.append(self._entity(name, text, start, end, "lookup"))
        for start, end, phrase in self._learned_index.finditer(text):
            item = self.learned[phrase]
            words = text[start:end]
            key = words.lower()
            value = self.synonyms.get(key, item.value if item.value.lower() != key else words)
            found.append(
                Entity(
                    entity=item.entity, value=value, text=words, start=start, end=end,
                    role=item.role, group=item.group, extractor="learned",
                )
            )  # fmt: skip
        found += builtin_entities(text, self.phone_region)
        return _resolve(found)

    def _entity(self, name: str, text: str, start: int, end: int, extractor: str) -> Entity:
        words = text[start:end]
        return Entity(
            entity=name, value=self.synonyms.get(words.lower(), words), text=words,
            start=start, end=end, extractor=extractor,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "regexes": self.regexes,
            "lookups": self.lookups,
            "synonyms": self.synonyms,
            "learned": {k: [v.entity, v.value, v.role, v.group] for k, v in self.learned.items()},
        }

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> EntityExtractor:
        return cls(
            regexes=[(str(n), str(p)) for n, p in spec["regexes"]],
            lookups={str(k): [str(x) for x in v] for k, v in spec["lookups"].items()},
            synonyms={str(k): str(v) for k, v in spec["synonyms"].items()},
            learned={str(k): _Learned(*v) for k, v in spec["learned"].items()},
        )


def builtin_entities(text: str, phone_region: str = "US") -> list[Entity]:
    """Emails, phone numbers (E.164), order ids and numbers, recognised without data."""
    out: list[Entity] = []
    for m in _EMAIL.finditer(text):
        out.append(_builtin("email", m.group().lower(), m))
    for match in phonenumbers.PhoneNumberMatcher(text, phone_region):
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        out.append(
            Entity(
                entity="phone_number", value=e164, text=match.raw_string, start=match.start,
                end=match.end,
            )
        )  # fmt: skip
    for m in _ORDER_ID.finditer(text):
        out.append(_builtin("order_id", m.group().lstrip("#").upper(), m))
    for m in _NUMBER.finditer(text):
        out.append(_builtin("number", _number(m.group()), m))
    for m in _NUMBER_WORDS.finditer(text):
        value = words_to_number(m.group())
        if value is not None:
            out.append(_builtin("number", value, m))
    return out


def _builtin(name: str, value: Any, m: re.Match[str]) -> Entity:
    return Entity(entity=name, value=value, text=m.group(), start=m.start(), end=m.end())


def _resolve(found: list[Entity]) -> tuple[Entity, ...]:
    """Drop matches overlapping a better one: by extractor precedence, then length."""
    ranked = sorted(found, key=lambda e: (_PRIORITY.get(e.extractor, 9), e.start - e.end))
    kept: list[Entity] = []
    for e in ranked:
        if all(e.end <= k.start or e.start >= k.end for k in kept):
            kept.append(e)
    return tuple(sorted(kept, key=lambda e: e.start))
