"""`from st2common.models.api.trace import TraceContext`: what a sensor may pass to dispatch_with_context."""

from __future__ import annotations

from typing import Optional

__all__ = ["TraceContext"]


class TraceContext:
    """An existing trace (id_) or the tag of a new one (trace_tag); equal when both fields are."""

    def __init__(self, id_: Optional[str] = None, trace_tag: Optional[str] = None) -> None:
        self.id_ = id_
        self.trace_tag = trace_tag

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TraceContext):
            return NotImplemented
        return (self.id_, self.trace_tag) == (other.id_, other.trace_tag)

    def __hash__(self) -> int:
        return hash((self.id_, self.trace_tag))

    def __str__(self) -> str:
        return f"{{id_: {self.id_}, trace_tag: {self.trace_tag}}}"

    __repr__ = __str__

    def __json__(self) -> dict:
        return vars(self)
