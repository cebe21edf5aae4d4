"""The composition root: what each process builds once from its settings.

The worker, the API and the HL7 listener each call `build_runtime` once at start-up: the
catalogue is read and checked once, and one validation context (catalogue, pseudonym key,
clock skew) is shared by everything in the process that validates events. The FHIR gateway's
mapping profiles (`profiles/<ORG>-fhir.yaml` beside the catalogue) are read by `fhir_profiles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.profile import MappingProfile, ProfileError
from flowsight.adapters.profile_file import load_profile
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.pressure import Cutoffs, require_valid
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings

if TYPE_CHECKING:  # the worker builds no API: FastAPI's import is a quarter second of its start
    from fastapi import FastAPI


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


#: The FHIR gateway's source system: `<ORG>/fhir`, whose profile is `profiles/<ORG>-fhir.yaml`.
FHIR_PROFILE_SUFFIX = "-fhir.yaml"


def profiles_directory(settings: Settings) -> Path:
    """Where mapping profiles are kept: `profiles/` beside the catalogue file."""
    return settings.catalogue_path.parent / "profiles"


def fhir_profiles(settings: Settings, catalogue: Catalogue) -> dict[str, MappingProfile]:
    """Each organisation's FHIR mapping profile by its code; ProfileError lists every problem.

    A file `<ORG>-fhir.yaml` must be the profile of organisation `<ORG>`; an organisation without
    one keeps the standard rules (a location must name a catalogue service id).
    """
    profiles: dict[str, MappingProfile] = {}
    problems: list[str] = []
    for path in sorted(profiles_directory(settings).glob(f"*{FHIR_PROFILE_SUFFIX}")):
        try:
            profile = load_profile(path, catalogue)
        except ProfileError as error:
            problems.append(str(error))
            continue
        named = path.name.removesuffix(FHIR_PROFILE_SUFFIX)
        if profile.organisation != named:
            problems.append(f"{path} is the profile of {profile.organisation}, not of {named}")
        profiles[profile.organisation] = profile
    if problems:
        raise ProfileError("\n".join(problems))
    return profiles


def build_api(settings: Settings) -> FastAPI:
    """The HTTP API for `settings`, built on this process's runtime and FHIR mapping profiles."""
    from flowsight.api.app import create_api
    from flowsight.api.routers.fhir import PROFILES_STATE

    runtime = build_runtime(settings)
    profiles = fhir_profiles(settings, runtime.catalogue)
    api = create_api(runtime.settings, runtime.catalogue, runtime.validation)
    setattr(api.state, PROFILES_STATE, profiles)
    return api
