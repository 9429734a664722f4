"""Smart-reply pipeline parts: triggering, style profile, cleaning, generation, selection.

Each module holds one idea; ``gateway.usecases.smart_replies`` wires them together.
"""
