"""LLM access: one small interface over litellm, whatever the model.

``LLMClient.complete`` is the only call the rest of the gateway makes. Every model,
the embedded local one included, is reached through ``litellm.completion``; the
local GGUF model and a scripted fake are registered as litellm custom providers.
"""

from gateway.llm.client import Completion, LLMClient, current_deadline
from gateway.llm.providers import register_providers

__all__ = ["Completion", "LLMClient", "current_deadline", "register_providers"]
