"""The ``nlu`` and ``knowledge`` sections of ``config.yml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.settings import Section


class NluSettings(Section):
    backend: Literal["builtin", "rasa"] = "builtin"
    data: tuple[str, ...] = ("dialogs/nlu/*.yml",)  # Rasa-format NLU YAML files (globs)
    threshold: float = Field(default=0.5, ge=0, le=1, description="below: not understood")
    url: str = ""  # the Rasa server, for backend: rasa
    timeout: float = Field(default=2.0, gt=0)
    fallback: Literal["builtin", "none"] = "builtin"  # when the Rasa server fails
    model_dir: str = ".frontdesk/models"
    # tfidf: TF-IDF alone; static: TF-IDF + the static word-piece embedding shipped in the
    # package; hybrid / embeddings: TF-IDF + the MiniLM sentence encoder shipped in the package
    # (nlu/encoder.py, onnxruntime), weight 2 / 1 (docs/nlu.md)
    classifier: Literal["static", "tfidf", "embeddings", "hybrid"] = "hybrid"
    # inscope (default since 0.3): the confidence compared with ``threshold`` is a calibrated
    # P(the top intent is right), the same meaning for 5 intents or 150; temperature: the top
    # intent's temperature-scaled probability (before 0.2)
    confidence: Literal["inscope", "temperature"] = "inscope"
    # embeddings: also refuse messages far from every known example (out of scope); needs the
    # embeddings extra, ~8 ms a message (docs/nlu.md)
    novelty: Literal["none", "embeddings"] = "none"
    # contrastive: training first tunes the sentence encoder's top layers on the examples
    # (SetFit-style, nlu/tuning.py; hybrid and embeddings classifiers): better top-1, more
    # messages answered right at the same threshold, fewer unknown topics refused with ~30
    # examples an intent, ~30-100 s more training, ~1 ms more a parse (docs/nlu.md); none
    # (default): the encoder as shipped
    tuning: Literal["none", "contrastive"] = "none"
    min_examples: int = Field(default=2, ge=1, description="fewer examples per intent: a problem")
    # The bot reads at most this many characters of a message (agents see all of it).
    max_text_chars: int = Field(default=4096, ge=64, le=100_000)

    def requirements(self) -> list[tuple[str, str]]:
        if self.backend == "rasa" and not self.url:
            return [("url", "required when nlu.backend is rasa")]
        return []


class KnowledgeSettings(Section):
    """The knowledge base the bot answers from (docs/knowledge.md)."""

    enabled: bool = True
    path: str = ""  # FAQ YAML and Markdown articles; default: <dialogs.path>/knowledge
    # Below it the bot does not answer; default 0.4 with TF-IDF alone, 0.5 fused with the
    # sentence encoder (measured on covid-faq, docs/knowledge.md)
    threshold: float | None = Field(default=None, ge=0, le=1)
    before_fallback: bool = True  # try the knowledge base before "not understood"
    # auto: fuse the sentence encoder's similarity when the embeddings extra is installed
    encoder: Literal["auto", "none", "embeddings"] = "auto"
    # Optional generative answers: an OpenAI-compatible chat-completions server rephrases the
    # retrieved passages (cited); off by default. The key comes from the environment.
    generator: Literal["none", "openai"] = "none"
    base_url: str = ""  # e.g. http://localhost:11434/v1 (Ollama), https://api.openai.com/v1
    model: str = ""
    api_key: str = ""
    timeout: float = Field(default=8.0, gt=0, description="seconds; then the extractive answer")

    def requirements(self) -> list[tuple[str, str]]:
        if self.generator == "openai":
            return [(k, "required when knowledge.generator is openai")
                    for k in ("base_url", "model") if not getattr(self, k)]  # fmt: skip
        return []

    def folder(self, dialogs_path: str) -> str:
        return self.path or f"{dialogs_path.rstrip('/')}/knowledge"

    def threshold_for(self, *, fused: bool) -> float:
        if self.threshold is not None:
            return self.threshold
        return 0.5 if fused else 0.4
