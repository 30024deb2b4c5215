"""Write the JSON Schema of every public record to schemas/json/ (``python -m schemas [DIR]``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.models import PUBLIC_MODELS


def export_json_schemas(folder: Path) -> list[Path]:
    """Write one ``<topic>.schema.json`` per public topic into *folder*; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for topic, model in PUBLIC_MODELS.items():
        path = folder / f"{topic}.schema.json"
        schema = model.model_json_schema(mode="serialization")
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "json"
    for path in export_json_schemas(target):
        print(path)
