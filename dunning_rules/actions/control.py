"""The control step types, run by the engine itself: ``wait`` and ``guard``.

``wait`` (``duration: 3d``) pauses the run; ``guard`` ends the run as completed when its
``when`` is false. These functions are what their entry points name; the engine never calls
them, it handles both types itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import ActionContext

__all__ = ["guard", "wait"]


class _Control:
    params_schema: ClassVar[dict[str, Any]]

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        raise RuntimeError(f"the engine runs {ctx.step_type!r} steps itself")


class _Wait(_Control):
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"duration": {"type": "string"}},
        "required": ["duration"],
        "additionalProperties": False,
    }


class _Guard(_Control):
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
    }


wait = _Wait()
guard = _Guard()
