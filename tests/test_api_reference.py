"""docs/api.md is the API reference a client builds against: it must say what
``/openapi.json`` says. Every operation has a ``### `METHOD /path` `` section, and every
field of its request and response bodies is named in that section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
HEADING = re.compile(r"^### `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`", re.MULTILINE)
METHODS = {"get", "post", "put", "patch", "delete"}


def _sections(text: str) -> dict[tuple[str, str], str]:
    marks = list(HEADING.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[(m.group(1).lower(), m.group(2))] = text[m.end():end]
    return out


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _fields(spec: dict, schema: dict, depth: int = 0) -> set[str]:
    """Property names of a body schema and of the objects it holds (two levels deep)."""
    schema = _resolve(spec, schema)
    names: set[str] = set()
    for sub in schema.get("anyOf", []) + schema.get("allOf", []):
        names |= _fields(spec, sub, depth)
    if schema.get("type") == "array" and "items" in schema:
        names |= _fields(spec, schema["items"], depth)
    for name, prop in schema.get("properties", {}).items():
        names.add(name)
        if depth < 2:
            names |= _fields(spec, prop, depth + 1)
    return names


def _body_schemas(op: dict):
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        yield body["schema"]
    for status, resp in op.get("responses", {}).items():
        if status.startswith("2"):
            content = resp.get("content", {}).get("application/json")
            if content and content.get("schema"):
                yield content["schema"]


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").json()


@pytest.fixture
def sections():
    return _sections(DOC.read_text(encoding="utf-8"))


def test_every_operation_is_documented_and_nothing_else(spec, sections):
    operations = {(m, p) for p, ops in spec["paths"].items() for m in ops if m in METHODS}
    assert sorted(operations - set(sections)) == [], "operations missing from docs/api.md"
    assert sorted(set(sections) - operations) == [], "docs/api.md documents operations the app lacks"


def test_every_body_field_is_named_in_its_section(spec, sections):
    missing = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in METHODS:
                continue
            text = sections.get((method, path), "")
            for schema in _body_schemas(op):
                for name in sorted(_fields(spec, schema)):
                    if f"`{name}`" not in text and f'"{name}"' not in text:
                        missing.append(f"{method.upper()} {path}: {name}")
    assert missing == [], "fields the reference does not name"


def test_the_reference_cites_nothing_outside_the_repository():
    text = DOC.read_text(encoding="utf-8")
    assert "../shared" not in text and "/work/" not in text
