"""LLM access: one small interface over litellm, whatever the model.

``LLMClient.complete`` is the only call the rest of the gateway makes. Every model,
the embedded local one included, is reached through litellm; the local GGUF model
is a litellm custom provider, installed by a ``ProviderRegistry`` that the services
own (``gateway.services.build_services``).
"""

from gateway.llm.client import Completion, LLMClient, current_deadline
from gateway.llm.providers import LocalLlama, ProviderRegistry, installed_providers

__all__ = ["Completion", "LLMClient", "LocalLlama", "ProviderRegistry", "current_deadline",
           "installed_providers"]
