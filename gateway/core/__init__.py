"""The bottom layer: settings, errors, the database base and the offline environment.

Everything else may import this package; it imports nothing of the project above it
(``lint-imports`` checks: see ``[tool.importlinter]`` in pyproject.toml).
"""
