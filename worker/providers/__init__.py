"""Model providers: OpenAI, Gemini and the offline stand-in, behind one interface.

``openai`` and ``google`` are imported on demand by the registry, so a deployment without
those keys never loads their SDKs.
"""

from __future__ import annotations

from .base import (
    GeneratedImage,
    ImageInput,
    ImageRequest,
    ModelInfo,
    Provider,
    ProviderError,
    TextRequest,
    TextStream,
    Usage,
)
from .offline import OfflineProvider
from .registry import ProviderConfig, Registry

__all__ = [
    "GeneratedImage",
    "ImageInput",
    "ImageRequest",
    "ModelInfo",
    "OfflineProvider",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "Registry",
    "TextRequest",
    "TextStream",
    "Usage",
]
