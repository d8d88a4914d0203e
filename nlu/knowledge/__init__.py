"""The knowledge base: FAQ YAML and Markdown articles the bot answers from (docs/knowledge.md)."""
