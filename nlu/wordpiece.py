"""BERT's uncased WordPiece tokenizer in plain Python (no ``tokenizers`` dependency): text
cleaned, lower-cased, accents stripped, split on whitespace, punctuation and CJK characters,
then each word cut greedily into the longest pieces of the vocabulary ("playing" -> "play",
"##ing"). It reproduces the ``tokenizers`` package's output for all-MiniLM-L6-v2's vocabulary."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache

MAX_WORD_CHARS = 100  # as BERT: a longer "word" is [UNK]


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def basic_words(text: str) -> list[str]:
    """Lower-cased, accent-free words and single punctuation / CJK characters."""
    out: list[str] = []
    current: list[str] = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if ch.isspace() or unicodedata.category(ch) == "Zs":
            if current:
                out.append("".join(current))
                current = []
            continue
        if _is_cjk(cp) or _is_punctuation(ch):
            if current:
                out.append("".join(current))
                current = []
            out.append(ch)
            continue
        current.append(ch)
    if current:
        out.append("".join(current))
    words = []
    for word in out:
        lowered = unicodedata.normalize("NFD", word.lower())
        stripped = "".join(c for c in lowered if unicodedata.category(c) != "Mn")
        if stripped:
            # stripping accents can leave punctuation to split on ("a\u0301." -> "a", ".")
            words += _split_punctuation(stripped)
    return words


def _split_punctuation(word: str) -> list[str]:
    if not any(_is_punctuation(c) for c in word):
        return [word]
    parts: list[str] = []
    current = ""
    for ch in word:
        if _is_punctuation(ch):
            if current:
                parts.append(current)
            parts.append(ch)
            current = ""
        else:
            current += ch
    if current:
        parts.append(current)
    return parts


class WordPiece:
    """Text -> vocabulary ids (no [CLS]/[SEP]); ``unk`` for a word that cannot be cut."""

    def __init__(self, vocab: Sequence[str], unk: str = "[UNK]") -> None:
        self.vocab = {token: i for i, token in enumerate(vocab)}
        self.unk = self.vocab[unk]
        self.word_ids = lru_cache(maxsize=50_000)(self._word_ids)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        if len(word) > MAX_WORD_CHARS:
            return (self.unk,)
        vocab = self.vocab
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unk,)
            ids.append(found)
            start = end
        return tuple(ids)

    def ids(self, text: str) -> list[int]:
        out: list[int] = []
        for word in basic_words(text):
            out += self.word_ids(word)
        return out
