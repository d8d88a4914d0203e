"""The example retail customer-care bot (YAML) and its fake order service."""
