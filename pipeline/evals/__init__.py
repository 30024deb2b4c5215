"""``copydesk eval``: score each stage's core on labeled data.

Every eval prints a readable report and, as its last line, one JSON object with its figures. Each
subcommand lives in its own module here and is registered in ``EVALS``; modules import their stage
lazily, so ``copydesk --help`` stays fast.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["EVALS", "eval_group"]

# subcommand name -> "module:click command" (loaded on first use)
EVALS: dict[str, str] = {
    "dedup": "pipeline.evals.dedup:dedup",
    "paraphrase": "pipeline.evals.paraphrase:paraphrase",
    "entities": "pipeline.evals.facts:entities",
    "quotes": "pipeline.evals.facts:quotes",
    "quantities": "pipeline.evals.facts:quantities",
    "stories": "pipeline.evals.stories:stories",
    "story-baselines": "pipeline.evals.story_baselines:story_baselines",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in EVALS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name) if name in EVALS else None

    @staticmethod
    def _load(name: str) -> click.Command | None:
        module, _, attribute = EVALS[name].partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as error:
            if error.name == module:  # that eval is not written yet; any other missing import is a bug
                return None
            raise


@click.group("eval", cls=_LazyGroup)
def eval_group() -> None:
    """Score a stage on labeled data; the last line printed is one JSON object of figures."""
