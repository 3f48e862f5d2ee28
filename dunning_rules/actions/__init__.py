"""Built-in step types and the adapter contract."""

from __future__ import annotations

from .base import ActionContext, Adapter, LookupContext

__all__ = ["ActionContext", "Adapter", "LookupContext"]
