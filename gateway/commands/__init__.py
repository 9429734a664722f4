"""Feature commands of the ``persona`` CLI (``gateway.cli`` attaches them), and what
they share (``options``)."""
