"""The layer rules of issue #13 hold, and they bite.

The rules are the import-linter contracts in pyproject.toml (``[tool.importlinter]``):
core <- libraries <- app infrastructure <- use cases <- HTTP app / CLI / evals, and no
circles between sibling modules. ``lint-imports`` must pass; an upward import or a
circle added to the real import graph must break a contract; every top-level module
must be placed in a layer, so a new one cannot slip past the rules unplaced.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.configuration import configure
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}
KINDS = {"layers": LayersContract, "acyclic": AcyclicSiblingsContract}


def _kept(contract_id: str, graph: grimp.ImportGraph) -> bool:
    raw = CONTRACTS[contract_id]
    contract = KINDS[contract_id](
        name=raw["name"], session_options={"root_packages": CONFIG["root_packages"]},
        contract_options={k: v for k, v in raw.items() if k not in ("id", "name", "type")})
    return contract.check(graph, verbose=False).kept


def _graph(*extra: tuple[str, str]) -> grimp.ImportGraph:
    configure()
    graph = grimp.build_graph(*CONFIG["root_packages"], cache_dir=None)
    for importer, imported in extra:
        graph.add_import(importer=importer, imported=imported)
    return graph


def test_lint_imports_passes():
    lint = Path(sys.executable).with_name("lint-imports")
    # From the repo root: lint-imports puts the working directory first on sys.path.
    out = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("importer,imported", [
    ("embeddings.history", "gateway.schemas.history"),  # a library reaching an HTTP schema
    ("embeddings.history", "gateway.tables"),  # ... or an app table
    ("guardrails.report", "gateway.schemas.common"),
    ("prompts.render", "gateway.usecases.common"),
    ("gateway.services", "gateway.usecases.replies.prompt"),  # infrastructure -> use case
    ("evals.cli", "gateway.cli"),  # the eval group importing the CLI back
    ("gateway.core.db", "embeddings.store"),  # core filling its metadata from above
    ("gateway.commands.ingest", "gateway.cli"),
])
def test_an_upward_import_breaks_the_layers(importer, imported):
    assert _kept("layers", _graph())
    assert not _kept("layers", _graph((importer, imported)))


def test_a_circle_inside_a_layer_breaks_the_acyclic_contract():
    assert _kept("acyclic", _graph())
    circle = _graph(("embeddings.store", "embeddings.history"))  # history imports store
    assert _kept("layers", circle)  # same layer: only the acyclic contract sees it
    assert not _kept("acyclic", circle)


def test_every_top_level_module_is_in_a_layer():
    named = {m.strip() for layer in CONTRACTS["layers"]["layers"]
             for m in re.split(r"[|:]", layer)}
    found = set()
    for root in CONFIG["root_packages"]:
        if root != "gateway":
            found.add(root)
            continue
        for child in (ROOT / "gateway").iterdir():
            if child.suffix == ".py" and child.stem != "__init__":
                found.add(f"gateway.{child.stem}")
            elif (child / "__init__.py").is_file():
                found.add(f"gateway.{child.name}")
    assert found - named == set(), "place these modules in a layer in pyproject.toml"
    assert named - found == set(), "layers name modules that do not exist"
