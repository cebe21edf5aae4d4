"""Load the service catalogue YAML with one clear error per bad entry."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from flowsight.adapters.yaml_file import yaml_document
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.pressure import check_thresholds


class CatalogueError(ValueError):
    """The catalogue file cannot be used; the message lists every problem."""


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate the catalogue at `path`."""
    document = yaml_document(path, "the service catalogue", CatalogueError)
    try:
        catalogue = Catalogue.model_validate(document)
    except ValidationError as error:
        problems = "\n".join(
            f"  - {_where(document, e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise CatalogueError(f"the service catalogue {path} has problems:\n{problems}") from error
    # Indicators a service kind measures, and which way each is worse, are domain knowledge.
    unusable = check_thresholds(catalogue)
    if unusable:
        listed = "\n".join(f"  - {problem}" for problem in unusable)
        raise CatalogueError(f"the service catalogue {path} has problems:\n{listed}")
    return catalogue


def _where(document: object, location: tuple[int | str, ...]) -> str:
    # Name a service by its id rather than its list index: "services[lch-ucr].kind".
    parts: list[str] = []
    node = document
    for part in location:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            label = (node.get("id") or node.get("code")) if isinstance(node, dict) else None
            parts[-1] = f"{parts[-1]}[{label or part}]"
            continue
        parts.append(str(part))
        node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "catalogue"
