"""Word lists and tables as data, beside the code that reads them.

Each list is a ``.txt`` file (one entry a line; blank lines and lines starting with ``#`` are skipped, and
the first comment lines say what the list is and where its entries come from) or a ``.json`` file (an
object whose ``"source"`` says the same). Files are read once, through ``importlib.resources``, so they
work from a wheel as from a checkout.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any, NamedTuple

__all__ = ["QUALIFIER_BOUNDS", "Qualifier", "qualifiers", "table", "words"]

QUALIFIER_BOUNDS = ("approx", "upper", "lower", "exact")


@functools.cache
def words(name: str) -> tuple[str, ...]:
    """Return the entries of ``<name>.txt``, in file order; raise FileNotFoundError when there is none."""
    text = files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


@functools.cache
def table(name: str) -> Any:
    """Return the parsed ``<name>.json`` (the caller must not mutate it: it is shared)."""
    return json.loads(files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))


class Qualifier(NamedTuple):
    """A qualifier of a number: its text, the bound it puts on the value (one of ``QUALIFIER_BOUNDS``) and
    whether the facts stage reads it as written right before a number."""

    text: str
    bound: str
    before_number: bool


@functools.cache
def qualifiers() -> tuple[Qualifier, ...]:
    """Return the qualifiers of ``qualifiers.json`` in file order; raise ValueError on an unknown bound."""
    out = []
    for entry in table("qualifiers")["qualifiers"]:
        if entry["bound"] not in QUALIFIER_BOUNDS:
            raise ValueError(
                f"qualifiers.json: {entry['text']!r} has bound {entry['bound']!r}, not one of {QUALIFIER_BOUNDS}"
            )
        out.append(Qualifier(entry["text"], entry["bound"], entry.get("before_number", True)))
    return tuple(out)
