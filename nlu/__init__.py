"""Natural-language understanding: intents, entities and sentiment from Rasa-format data."""
