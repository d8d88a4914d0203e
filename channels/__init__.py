"""Platform adapters: one module per platform, the adapter contract, and the registry."""
