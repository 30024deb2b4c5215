"""Schema model <-> JSON bytes: the wire format of every copydesk topic."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

__all__ = ["decode", "encode"]

M = TypeVar("M", bound=BaseModel)


def encode(record: BaseModel) -> bytes:
    """Return the record as compact UTF-8 JSON."""
    return record.model_dump_json().encode("utf-8")


def decode(model: type[M], payload: bytes) -> M:
    """Return the payload parsed as ``model``; raise pydantic.ValidationError when it is not one."""
    return model.model_validate_json(payload)
