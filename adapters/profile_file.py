"""Reading a mapping profile file (YAML) and saying everything wrong with it, one entry a line
(`adapters.profile` is the profile itself). The only I/O is reading that file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flowsight.adapters.profile import MappingProfile, ProfileError, catalogue_problems
from flowsight.adapters.yaml_file import yaml_document
from flowsight.schemas.catalogue import Catalogue


def load_profile(path: Path, catalogue: Catalogue) -> MappingProfile:
    """Read the profile at `path`; ProfileError lists every bad entry, one per line."""
    document = yaml_document(path, "the mapping profile", ProfileError)
    if isinstance(document, dict) and "organisation" not in document and document:
        if all(isinstance(value, str) for value in document.values()):
            raise ProfileError(
                f"{path} is an old location map (point of care: service); pass it as "
                "--location-map, or write it as a profile's `locations:` with `point_of_care` "
                "rules (see deploy/catalogue/profiles/RR8-pas.yaml)"
            )
    document = _codes_as_text(document)
    try:
        profile = MappingProfile.model_validate(document)
    except ValidationError as error:
        # The catalogue checks run on the raw document too, so one pass lists every problem.
        lines = [
            _where(e["loc"]) + ": " + str(e["msg"]).removeprefix("Value error, ")
            for e in error.errors()
        ]
        if isinstance(document, dict):
            lines += catalogue_problems(document, catalogue)
        raise ProfileError(_listed(path, lines)) from None
    problems = profile.problems(catalogue)
    if problems:
        raise ProfileError(_listed(path, problems))
    return profile


def _listed(path: Path, problems: list[str]) -> str:
    return f"the mapping profile {path} has problems:\n" + "\n".join(f"  - {p}" for p in problems)


def _codes_as_text(document: Any) -> Any:
    """YAML reads codes such as 19 or 101 as numbers; every code and pattern is text in a message."""
    if not isinstance(document, dict):
        return document
    rules = document.get("locations")
    if isinstance(rules, list):
        document = document | {
            "locations": [
                {k: str(v) if isinstance(v, int | float) else v for k, v in rule.items()}
                if isinstance(rule, dict)
                else rule
                for rule in rules
            ]
        }
    codes = document.get("codes")
    if isinstance(codes, dict):
        document = document | {
            "codes": {
                name: {str(k): v for k, v in table.items()} if isinstance(table, dict) else table
                for name, table in codes.items()
            }
        }
    return document


def _where(location: tuple[int | str, ...]) -> str:
    parts = ""
    for part in location:
        parts += f"[{part}]" if isinstance(part, int) else (f".{part}" if parts else str(part))
    return parts or "profile"
