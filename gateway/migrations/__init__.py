"""Alembic migrations for the gateway's database (SQLite and PostgreSQL).

``persona db upgrade`` runs them; a new revision goes in ``versions/`` (make one with
``alembic -c <ini pointing script_location at gateway:migrations> revision --autogenerate``
against a database at head, then read and fix what it wrote).
"""
