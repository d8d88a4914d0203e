"""The sentence encoder retrieval fuses with, when there is one (``knowledge.encoder``):
``auto`` uses the embeddings extra when it is installed, ``none`` never, ``embeddings``
always (an error when it is missing). Loaded from disk; never from a network."""

from __future__ import annotations

from nlu.knowledge.retrieval import Encoder


def resolve_encoder(choice: str) -> Encoder | None:
    if choice == "none":
        return None
    from nlu import embeddings

    if choice == "auto" and not embeddings.available():
        return None
    if not embeddings.available():
        raise embeddings.EmbeddingsUnavailable(
            f"knowledge.encoder: embeddings needs the optional extra: {embeddings.INSTALL_HINT}"
        )
    return embeddings.encode
