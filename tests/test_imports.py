"""No work at import time: importing the app pulls in no model stack and no network."""

import subprocess
import sys


def test_importing_the_app_loads_no_models():
    code = (
        "import sys, socket\n"
        "def refuse(*a, **k): raise RuntimeError('network at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import gateway.app, gateway.cli, gateway.services\n"
        "heavy = [m for m in ('litellm', 'torch', 'sentence_transformers', 'llama_cpp', 'faiss')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at import time: {out.stdout}"


def test_litellm_import_stays_offline():
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise RuntimeError('network at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from gateway.llm.client import _litellm\n"
        "litellm = _litellm()\n"
        "from gateway.llm import ProviderRegistry\n"
        "ProviderRegistry().install()\n"
        "print(len(litellm.model_cost) > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("True")
