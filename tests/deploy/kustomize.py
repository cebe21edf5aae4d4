"""Renders the subset of kustomize that deploy/k8s uses, in Python, so tests need no binary.

kustomize is a Go program, not a Python package; deploy/k8s keeps to a small subset of it
(`resources`, `namespace`, `images`, and `patches` given as strategic-merge patch files) and this
renderer refuses any other field, so a manifest that grows beyond the subset fails loudly here
instead of rendering differently from `kubectl kustomize`. Where kubectl is installed, a test
compares the two renderings.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

#: The kustomization fields this renderer understands; anything else is an error.
SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
#: Kinds that live outside any namespace, so `namespace:` leaves them alone.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}


def render(directory: Path) -> list[Resource]:
    """Every resource the kustomization in `directory` produces, in kustomize's input order."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise ValueError(
            f"{directory}: kustomization fields this renderer does not know: {unknown}"
        )
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        resources += render(path) if path.is_dir() else load(path)
    for patch_entry in spec.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise ValueError(f"{directory}: only `patches: - path: FILE` is supported")
        for patch in load(directory / patch_entry["path"]):
            _apply_patch(resources, patch, directory)
    for image in spec.get("images", []):
        _set_image(resources, image)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def load(path: Path) -> list[Resource]:
    """The YAML documents of one manifest file, empty documents left out."""
    documents = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return [document for document in documents if document]


def merge(target: Any, patch: Any) -> Any:
    """A strategic merge: maps merge key by key; lists of named items merge by name."""
    if isinstance(target, dict) and isinstance(patch, dict):
        merged = dict(target)
        for key, value in patch.items():
            merged[key] = merge(target[key], value) if key in target else copy.deepcopy(value)
        return merged
    if _named_items(target) and _named_items(patch):
        by_name = {item["name"]: item for item in target}
        merged_list = [merge(item, _named(patch, item["name"])) for item in target]
        return merged_list + [copy.deepcopy(item) for item in patch if item["name"] not in by_name]
    return copy.deepcopy(patch)


def _apply_patch(resources: list[Resource], patch: Resource, directory: Path) -> None:
    for index, resource in enumerate(resources):
        if _identity(resource) == _identity(patch):
            resources[index] = merge(resource, patch)
            return
    raise ValueError(f"{directory}: a patch matches no resource: {_identity(patch)}")


def _set_image(resources: list[Resource], image: dict[str, str]) -> None:
    for resource in resources:
        pod = resource.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            name = container["image"].split("@")[0].rsplit(":", 1)[0]
            if name == image["name"]:
                new_name = image.get("newName", name)
                container["image"] = (
                    f"{new_name}:{image['newTag']}" if "newTag" in image else new_name
                )


def _identity(resource: Resource) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


def _named_items(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def _named(items: list[Resource], name: str) -> Resource:
    return next((item for item in items if item["name"] == name), {})
