"""A litellm Router from a config file (``PERSONA_ROUTER_CONFIG``).

The file (YAML or JSON) holds litellm's ``model_list`` and optional
``router_settings``; see docs/hosted-models.md. It is read and checked once at
start-up: every entry needs ``model_name`` and ``litellm_params.model``, secrets are
``os.environ/NAME`` references resolved here (a missing variable stops the start with
a message naming the entry and field), and fallbacks must name models of the list.
So a vLLM, Ollama, Azure or OpenAI endpoint is configuration, and a typo is a
start-up error rather than a failure on the first request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.core.errors import ConfigError

ENV_PREFIX = "os.environ/"
# litellm_params that carry credentials: they must come from the environment.
SECRET_PARAMS = ("api_key", "azure_ad_token", "aws_secret_access_key", "vertex_credentials")


class RouterConfigError(ConfigError):
    """The router config file cannot be used; the message names the file and entry."""

    def __init__(self, message: str, *, path: Path, entry: int | None = None):
        super().__init__(message, field="router_config")
        self.path = path
        self.entry = entry


class LiteLLMParams(BaseModel):
    """One deployment: any litellm ``completion`` parameter; these are the common ones."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key: str | None = None
    api_version: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    stream_timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)

    @field_validator("model")
    @classmethod
    def _has_provider(cls, v: str) -> str:
        if "/" not in v:
            raise ValueError(f"model {v!r} has no provider prefix; write e.g. 'openai/{v}', "
                             f"'azure/{v}', 'hosted_vllm/{v}' or 'ollama_chat/{v}'")
        return v


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="allow")  # model_info and the like pass through

    model_name: str = Field(min_length=1)
    litellm_params: LiteLLMParams
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)


class RouterSettings(BaseModel):
    """The ``litellm.Router`` options the gateway passes on; others are refused so a
    misspelt one is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    fallbacks: list[dict[str, list[str]]] = Field(default_factory=list)
    timeout: float | None = Field(default=None, gt=0)
    num_retries: int | None = Field(default=None, ge=0, le=10)
    routing_strategy: str | None = None
    allowed_fails: int | None = Field(default=None, ge=0)
    cooldown_time: float | None = Field(default=None, ge=0)
    retry_after: float | None = Field(default=None, ge=0)
    enable_pre_call_checks: bool | None = None


class RouterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_list: list[ModelEntry] = Field(min_length=1)
    router_settings: RouterSettings = Field(default_factory=RouterSettings)

    @property
    def names(self) -> set[str]:
        return {e.model_name for e in self.model_list}

    def deployment_model(self, name: str) -> str | None:
        """The litellm model string behind a router ``model_name`` (its first deployment)."""
        return next((e.litellm_params.model for e in self.model_list if e.model_name == name),
                    None)


def _read(path: Path) -> object:
    if not path.is_file():
        raise RouterConfigError(f"router config {path} does not exist; set PERSONA_ROUTER_CONFIG "
                                "to an existing YAML or JSON file", path=path)
    import yaml

    text = path.read_text(encoding="utf-8")
    is_json = path.suffix.lower() == ".json"
    try:
        return json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise RouterConfigError(f"router config {path} is not valid "
                                f"{'JSON' if is_json else 'YAML'}: {exc}", path=path) from None


def _where(loc: tuple) -> tuple[int | None, str]:
    """('model_list', 2, 'litellm_params', 'model') -> (2, 'litellm_params.model')."""
    if len(loc) >= 2 and loc[0] == "model_list" and isinstance(loc[1], int):
        return loc[1], ".".join(str(p) for p in loc[2:]) or "entry"
    return None, ".".join(str(p) for p in loc) or "file"


def _resolve_env(config: RouterConfig, path: Path, env: Mapping[str, str]) -> None:
    for i, entry in enumerate(config.model_list):
        params = entry.litellm_params
        values = {**params.model_dump(exclude_none=True)}
        for key, value in values.items():
            if not isinstance(value, str):
                continue
            if value.startswith(ENV_PREFIX):
                name = value[len(ENV_PREFIX):]
                if not env.get(name):
                    raise RouterConfigError(
                        f"router config {path}: model_list[{i}] ({entry.model_name!r}) "
                        f"litellm_params.{key} reads the environment variable {name}, which is "
                        f"not set; export {name} or change the entry", path=path, entry=i)
                setattr(params, key, env[name])
            elif key in SECRET_PARAMS:
                raise RouterConfigError(
                    f"router config {path}: model_list[{i}] ({entry.model_name!r}) "
                    f"litellm_params.{key} is written in the file; keep secrets out of it: "
                    f"write {key}: os.environ/SOME_VARIABLE and export that variable",
                    path=path, entry=i)


def _check_fallbacks(config: RouterConfig, path: Path) -> None:
    names = config.names
    for rule in config.router_settings.fallbacks:
        for src, targets in rule.items():
            for name in [src, *targets]:
                if name not in names:
                    raise RouterConfigError(
                        f"router config {path}: router_settings.fallbacks names {name!r}, which "
                        f"is no model_name of model_list (known: {sorted(names)})", path=path)


def load_router_config(path: Path, *, models: list[str] = (),
                       env: Mapping[str, str] | None = None) -> RouterConfig:
    """Read, validate and resolve the file; ``RouterConfigError`` names what is wrong.
    Each of ``models`` (the chain) must be one of its ``model_name``s or a litellm
    model string."""
    env = os.environ if env is None else env
    raw = _read(path)
    if not isinstance(raw, dict):
        raise RouterConfigError(f"router config {path} must be a mapping with a model_list "
                                "(see docs/hosted-models.md)", path=path)
    try:
        config = RouterConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        entry, field = _where(tuple(first["loc"]))
        where = f"model_list[{entry}] {field}" if entry is not None else field
        name = None
        if entry is not None:
            items = raw.get("model_list") or []
            if entry < len(items) and isinstance(items[entry], dict):
                name = items[entry].get("model_name")
        named = f" ({name!r})" if name else ""
        raise RouterConfigError(f"router config {path}: {where}{named}: {first['msg']}",
                                path=path, entry=entry) from None
    _resolve_env(config, path, env)
    _check_fallbacks(config, path)
    for m in models:
        if m not in config.names and "/" not in m:
            raise RouterConfigError(
                f"PERSONA_MODELS names {m!r}, which is no model_name of router config {path} "
                f"(known: {sorted(config.names)}); name one of them or a litellm model string "
                "such as 'openai/gpt-4o-mini'", path=path)
    return config


class ModelRouter:
    """What ``LLMClient`` needs of a router: which names it serves, the model behind a
    name, and the call. The litellm Router does retries, fallbacks, per-deployment
    timeouts and rpm/tpm-aware load balancing between deployments of one name."""

    def __init__(self, config: RouterConfig):
        from gateway.llm.client import _litellm

        self.config = config
        model_list = [e.model_dump(exclude_none=True) for e in config.model_list]
        for entry in model_list:
            # Retries are the router's (num_retries), not also the SDK's hidden ones with
            # their back-off: those would spend the deadline on one deployment.
            entry["litellm_params"].setdefault("max_retries", 0)
        self.router = _litellm().Router(
            model_list=model_list, **config.router_settings.model_dump(exclude_none=True))

    def serves(self, name: str) -> bool:
        return name in self.config.names

    def deployment_model(self, name: str) -> str | None:
        return self.config.deployment_model(name)

    async def acompletion(self, *, model: str, messages: list[dict], **params):
        return await self.router.acompletion(model=model, messages=messages, **params)


def build_router(path: Path | None, *, models: list[str] = (),
                 env: Mapping[str, str] | None = None) -> ModelRouter | None:
    """The router named by ``PERSONA_ROUTER_CONFIG`` (None when unset)."""
    if path is None:
        return None
    return ModelRouter(load_router_config(path, models=models, env=env))
