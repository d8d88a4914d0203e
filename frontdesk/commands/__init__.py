"""The ``frontdesk`` subcommands, one module per area; ``frontdesk.cli`` registers them."""
