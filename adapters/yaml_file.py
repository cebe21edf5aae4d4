"""Reading a YAML file a user wrote (the catalogue, a mapping profile), with an error that
names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def yaml_document(path: Path, what: str, error: type[Exception]) -> Any:
    """The document at `path`, `what` it is (e.g. "the service catalogue"); `error` raised,
    with no traceback of its own, when it cannot be read or is not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"cannot read {what} {path}: {problem}") from None
    except yaml.YAMLError as problem:
        raise error(f"{what} {path} is not valid YAML: {problem}") from None
