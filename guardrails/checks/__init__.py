"""One module per guardrail check; each exposes a class with ``name`` and ``run``."""
