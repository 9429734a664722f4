"""Export a sentence-transformers model to ONNX, once, from its local weights.

The exported graph takes ``input_ids``/``attention_mask``/``token_type_ids`` and
returns the mean-pooled, L2-normalized sentence embedding (what the model's
Pooling + Normalize modules compute), so ``OnnxEmbedder`` only tokenizes and runs it.
Steps: ``torch.onnx.export`` (eager attention, so onnxruntime's transformer
optimizer can fuse it into ``Attention`` nodes), that optimizer (fused attention,
GELU, skip-layer-norm), and for ``onnx-int8`` dynamic int8 quantization with a
scale per output channel (one scale per tensor cost cosine 0.95 to the fp32
vectors instead of 0.99: docs/embedder.md).

Nothing is downloaded: the weights are the packaged ones. The result is cached under
``cache_dir`` in a folder named by the model and a fingerprint of its weights, and
written atomically (temp file + rename), so concurrent starts never read half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

from gateway.core.errors import ConfigError, GatewayError

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8")
_EXPORT_VERSION = "1"  # bump when the export steps change, so old caches are not reused


class EmbedderExportError(ConfigError):
    """The ONNX export of the embedding model failed."""


def _fingerprint(model_dir: Path) -> str:
    h = hashlib.sha256(_EXPORT_VERSION.encode())
    for f in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def onnx_path(model_dir: Path, cache_dir: Path, backend: str) -> Path:
    """Where the export of ``model_dir`` for ``backend`` lives (exists or not)."""
    name = f"{model_dir.parent.name}-{model_dir.name}-{_fingerprint(model_dir)}"
    return Path(cache_dir) / name / ("model-int8.onnx" if backend == "onnx-int8" else "model.onnx")


def ensure_onnx(model_dir: str | Path, cache_dir: str | Path, backend: str) -> Path:
    """The cached ONNX file for ``backend``, exported first if it is not there yet."""
    model_dir, cache_dir = Path(model_dir), Path(cache_dir)
    if not (model_dir / "config.json").is_file():
        raise EmbedderExportError(
            f"embedding_backend={backend} needs the model as a local folder (with "
            f"config.json); {model_dir} is not one. Point PERSONA_EMBEDDING_MODEL at the "
            "model folder, or set PERSONA_EMBEDDING_BACKEND=torch")
    out = onnx_path(model_dir, cache_dir, backend)
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out.with_name("model.onnx")
    t0 = time.monotonic()
    log.warning("exporting embedding model %s to ONNX (%s) under %s: once, ~15-40 s; "
                "later starts reuse it", model_dir, backend, out.parent)
    try:
        if not fp32.is_file():
            _atomic(fp32, lambda tmp: _export_fp32(model_dir, tmp))
        if backend == "onnx-int8":
            _atomic(out, lambda tmp: _quantize(fp32, tmp))
    except GatewayError:
        raise
    except Exception as exc:  # torch/onnx raise many kinds; say what to do
        raise EmbedderExportError(
            f"exporting {model_dir} to ONNX failed ({type(exc).__name__}: {exc}); "
            f"set PERSONA_EMBEDDING_BACKEND=torch to run without it, or delete "
            f"{out.parent} and start again") from exc
    log.warning("embedding model exported in %.1f s: %s", time.monotonic() - t0, out)
    return out


def _atomic(dest: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _export_fp32(model_dir: Path, dest: Path) -> None:
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    cfg = AutoConfig.from_pretrained(str(model_dir))

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
            w = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * w).sum(1) / w.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, p=2, dim=1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.ones(2, 16, dtype=torch.long)
    raw = dest.with_name(dest.name + ".raw")
    try:
        # The tracer warns about a deprecated API and about traced branches this graph
        # does not have (its pooling and mask take no data-dependent path); the export is
        # checked against torch's vectors (tests/test_embedder_backends.py), so keep the
        # first start's log to the gateway's own lines.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(Pooled(model), (ids, ids, torch.zeros_like(ids)), str(raw),
                              input_names=names, output_names=["embedding"],
                              dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names},
                                            "embedding": {0: "batch"}},
                              opset_version=17, dynamo=False)
        opt = optimize_model(str(raw), model_type="bert", num_heads=cfg.num_attention_heads,
                             hidden_size=cfg.hidden_size, opt_level=1)
        opt.save_model_to_file(str(dest))
    finally:
        raw.unlink(missing_ok=True)


def _quantize(fp32: Path, dest: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(dest), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
