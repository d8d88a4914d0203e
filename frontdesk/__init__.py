"""The composition root: the one place that puts Frontdesk together. It loads the settings,
builds the channels, the NLU, the dialogs and the example services, wires them into the
gateway in aiohttp's lifecycle, and holds the ``frontdesk`` command line."""
