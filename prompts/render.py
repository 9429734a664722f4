"""Prompt templates: files in ``prompts/templates``, rendered sandboxed and strict.

A template named ``<task>_v<N>.j2`` has version ``<task>_v<N>``; responses record
it. Templates are parsed when the ``PromptLibrary`` is built, so a syntax error
or a reference to a variable the caller never passes fails at load time.

Untrusted text (an incoming email, a campaign body) goes through the ``fence``
filter: it is wrapped in markers the text itself cannot forge.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

TEMPLATE_DIR = Path(__file__).parent / "templates"
FENCE_OPEN = "<<<UNTRUSTED>>>"
FENCE_CLOSE = "<<<END UNTRUSTED>>>"
_FENCE_RE = re.compile(r"<{2,}\s*/?\s*(END\s+)?UNTRUSTED\s*>{2,}", re.IGNORECASE)


def fence(text: str) -> str:
    """Wrap untrusted text in fence markers, removing any forged markers inside it."""
    clean = _FENCE_RE.sub("", text or "")
    return f"{FENCE_OPEN}\n{clean.strip()}\n{FENCE_CLOSE}"


_TURN = re.compile(r"^### (USER|ASSISTANT)\s*$", re.MULTILINE)
_MARKER = re.compile(r"#{3,}")


def one_line(text: str | None, limit: int) -> str:
    """One line, clipped, with turn markers neutralized so no text can forge a chat turn."""
    return _MARKER.sub("#", " ".join((text or "").split())[:limit])


def split_turns(messages: list[dict]) -> list[dict]:
    """Expand a rendered user text's ``### USER``/``### ASSISTANT`` markers into chat
    turns: templates write few-shot transcripts, which tiny models imitate far
    better than they follow instructions."""
    out = [m for m in messages if m["role"] == "system"]
    user = next(m["content"] for m in messages if m["role"] == "user")
    parts = _TURN.split("### USER\n" + user)
    # parts: ["", "USER", text, "ASSISTANT", text, ...]
    for role, text in zip(parts[1::2], parts[2::2]):
        if text.strip():
            out.append({"role": role.lower(), "content": text.strip()})
    return out


@functools.lru_cache(maxsize=1)
def _tiktoken_encoding():
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        from gateway.core.offline import offline_env

        offline_env()
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens_tiktoken(text: str) -> int:
    return len(_tiktoken_encoding().encode(text, disallowed_special=()))


TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class RenderedPrompt:
    messages: list[dict]
    version: str
    tokens: int
    examples_used: int


class PromptLibrary:
    """Loads every template once and checks its variables against what callers pass."""

    def __init__(self, template_dir: Path = TEMPLATE_DIR):
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(template_dir)),
            undefined=StrictUndefined, autoescape=False,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
        )
        self.env.filters["fence"] = fence
        self.templates = {}
        self.variables = {}
        for path in sorted(template_dir.glob("*.j2")):
            name = path.stem
            source = path.read_text(encoding="utf-8")
            self.variables[name] = meta.find_undeclared_variables(self.env.parse(source))
            self.templates[name] = self.env.get_template(path.name)

    def latest(self, task: str) -> str:
        versions = [n for n in self.templates if n.startswith(f"{task}_v")]
        if not versions:
            raise KeyError(f"no prompt template for task {task!r} in {TEMPLATE_DIR}")
        return max(versions, key=lambda n: int(n.rsplit("_v", 1)[1]))

    def render(self, version: str, **variables) -> str:
        missing = self.variables[version] - variables.keys()
        if missing:
            raise KeyError(f"template {version} needs variables {sorted(missing)}")
        return self.templates[version].render(**variables).strip()

    def render_chat(
        self,
        version: str,
        *,
        examples: Sequence,
        budget_tokens: int,
        count_tokens: TokenCounter = count_tokens_tiktoken,
        **variables,
    ) -> RenderedPrompt:
        """Render ``version`` (a template whose output is ``SYSTEM`` text, a line
        ``### USER``, then the user text) with as many leading ``examples`` as fit
        in ``budget_tokens``. Examples are dropped from the end (least relevant)."""
        kept = list(examples)
        while True:
            text = self.render(version, examples=kept, **variables)
            tokens = count_tokens(text)
            if tokens <= budget_tokens or not kept:
                break
            kept.pop()
        system, _, user = text.partition("### USER")
        messages = [{"role": "system", "content": system.strip()}] if system.strip() else []
        messages.append({"role": "user", "content": user.strip() or system.strip()})
        return RenderedPrompt(messages=messages, version=version, tokens=tokens,
                              examples_used=len(kept))


@functools.lru_cache(maxsize=1)
def default_library() -> PromptLibrary:
    return PromptLibrary()
