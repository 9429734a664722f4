"""Keep every library off the network: set before litellm, tiktoken or
sentence-transformers are imported (the CLI, tests and tools call it first)."""

from __future__ import annotations

import os
from pathlib import Path


def offline_env() -> None:
    """Environment that keeps every library off the network (set before imports)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        from importlib.util import find_spec

        spec = find_spec("litellm")
        if spec and spec.submodule_search_locations:
            tok = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
            if tok.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(tok)
