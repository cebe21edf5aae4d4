"""The composition root: what each process builds once from its settings.

The worker, the API and the HL7 listener each call `build_runtime` once at start-up: the
catalogue is read and checked once, and one validation context (catalogue, pseudonym key,
clock skew) is shared by everything in the process that validates events.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from flowsight.adapters.catalogue import load_catalogue
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.pressure import Cutoffs, require_valid
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings


@dataclass(frozen=True)
class Runtime:
    """The settings, the catalogue they name and the validation context built from both."""

    settings: Settings
    catalogue: Catalogue
    validation: ValidationContext


def build_runtime(settings: Settings) -> Runtime:
    """Load and check the catalogue once; raise CatalogueError or PressureConfigError if unusable."""
    catalogue = load_catalogue(settings.catalogue_path)
    require_valid(catalogue, Cutoffs(*settings.opel_cutoffs), settings.system_weights)
    validation = ValidationContext(catalogue, settings.pseudonym_secret, settings.clock_skew)
    return Runtime(settings, catalogue, validation)


def build_api(settings: Settings) -> FastAPI:
    """The HTTP API for `settings`, built on this process's runtime."""
    from flowsight.api.app import create_api

    runtime = build_runtime(settings)
    return create_api(runtime.settings, runtime.catalogue, runtime.validation)
