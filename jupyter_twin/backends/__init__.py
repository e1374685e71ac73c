"""Model backends: one small class per transport, all streaming and cancellable."""

from .base import Backend, ChatRequest, FimRequest, ModelInfo
from .select import choose, make_backend

__all__ = ["Backend", "ChatRequest", "FimRequest", "ModelInfo", "choose", "make_backend"]
