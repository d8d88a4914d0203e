"""The sentence encoder retrieval fuses with, when there is one (``knowledge.encoder``):
``auto`` uses it when its weights are installed, ``none`` never, ``embeddings`` always (an
error when it is missing). It is ``nlu.encoder`` (all-MiniLM-L6-v2 as a numpy forward pass,
weights from disk, never from a network)."""

from __future__ import annotations

from nlu.knowledge.retrieval import Encoder


def resolve_encoder(choice: str) -> Encoder | None:
    if choice == "none":
        return None
    from nlu import encoder

    if choice == "auto" and not encoder.available():
        return None
    return encoder.default_encoder().encode  # raises EncoderUnavailable with a hint
