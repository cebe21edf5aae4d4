"""The Kubernetes manifests in deploy/k8s render, validate against the Kubernetes schemas
(offline, kubernetes-validate) and hold what an operator relies on: probes, limits, non-root
pods, placeholders for every secret, a disruption budget per workload, workers within the
partitions, and network policies that let in only the API port and Prometheus."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from flowsight.settings import Settings
from tests.debian import ensure_program
from tests.deploy.kustomize import Resource, load, render

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
OVERLAYS = sorted(path for path in (K8S / "overlays").iterdir() if path.is_dir())
#: The oldest Kubernetes release still in common support, and the newest schemas bundled.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
WORKLOADS = {"Deployment", "StatefulSet", "Job"}
#: Settings that are secrets: they must come from the Secret, never the ConfigMap.
SECRET_SETTINGS = {
    "FLOWSIGHT_PSEUDONYM_KEY",
    "FLOWSIGHT_API_KEYS",
    "FLOWSIGHT_DATABASE_URL",
    "FLOWSIGHT_KAFKA_SASL_PASSWORD",
    "FLOWSIGHT_ALERT_ROUTES",
}
PLACEHOLDER = "<set out of band"


def rendered(directory: Path) -> list[Resource]:
    return render(directory)


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    return [resource for resource in resources if resource["kind"] == kind]


def named(resources: list[Resource], kind: str, name: str) -> Resource:
    return next(r for r in of_kind(resources, kind) if r["metadata"]["name"] == name)


def pod_spec(workload: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(resources: list[Resource]) -> list[tuple[Resource, dict[str, Any]]]:
    return [
        (workload, container)
        for workload in resources
        if workload["kind"] in WORKLOADS
        for container in pod_spec(workload)["containers"]
    ]


def config(resources: list[Resource]) -> dict[str, str]:
    data: dict[str, str] = named(resources, "ConfigMap", "flowsight-config")["data"]
    return data


@pytest.fixture(params=OVERLAYS, ids=lambda path: path.name)
def overlay(request: pytest.FixtureRequest) -> list[Resource]:
    return rendered(request.param)


def test_there_is_an_overlay_for_a_city() -> None:
    assert "city" in {path.name for path in OVERLAYS}


@pytest.mark.parametrize("directory", [K8S / "base", *OVERLAYS], ids=lambda p: p.name)
def test_every_resource_is_valid_for_kubernetes(directory: Path) -> None:
    resources = rendered(directory) + (
        load(K8S / "secret.example.yaml") if directory.name == "base" else []
    )
    problems = []
    for resource in resources:
        for version in K8S_VERSIONS:
            try:
                # strict: a misspelt or misplaced field is an error, not silently dropped.
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(
                    f"{resource['kind']}/{resource['metadata']['name']} ({version}): "
                    f"{error.message} at {'.'.join(map(str, error.path))}"
                )
    assert not problems, "\n".join(problems)
    assert {
        "Deployment",
        "StatefulSet",
        "Job",
        "Service",
        "PodDisruptionBudget",
        "ConfigMap",
        "NetworkPolicy",
    } <= {r["kind"] for r in resources}


def test_an_invalid_resource_is_refused() -> None:
    # The validation above can fail: a Deployment with a misspelt field is refused.
    deployment = named(rendered(K8S / "base"), "Deployment", "flowsight-api")
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_long_running_containers_have_probes(overlay: list[Resource]) -> None:
    for workload, container in containers(overlay):
        if workload["kind"] == "Job":
            continue  # runs once and exits: its completion is the check
        for probe in ("livenessProbe", "readinessProbe"):
            assert probe in container, f"{workload['metadata']['name']} has no {probe}"
    api = pod_spec(named(overlay, "Deployment", "flowsight-api"))["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_every_container_has_requests_and_limits(overlay: list[Resource]) -> None:
    for workload, container in containers(overlay):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), (
                f"{workload['metadata']['name']}/{container['name']} lacks {bound}"
            )


def test_every_pod_runs_as_the_images_user_without_privileges(overlay: list[Resource]) -> None:
    for workload, container in containers(overlay):
        pod = pod_spec(workload)["securityContext"]
        where = f"{workload['metadata']['name']}/{container['name']}"
        assert pod["runAsNonRoot"] is True, where
        assert pod["runAsUser"] == 10001, where  # the Dockerfile's USER
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        own = container["securityContext"]
        assert own["allowPrivilegeEscalation"] is False, where
        assert own["readOnlyRootFilesystem"] is True, where
        assert own["capabilities"]["drop"] == ["ALL"], where
        assert pod_spec(workload)["automountServiceAccountToken"] is False, where


def test_images_are_pinned(overlay: list[Resource]) -> None:
    for _, container in containers(overlay):
        image = container["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


def test_each_long_running_workload_has_a_disruption_budget(overlay: list[Resource]) -> None:
    budgets = of_kind(overlay, "PodDisruptionBudget")
    for workload in overlay:
        if workload["kind"] in {"Deployment", "StatefulSet"}:
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert any(
                budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
                for budget in budgets
            ), f"no PodDisruptionBudget selects {workload['metadata']['name']}"


def test_services_reach_their_pods(overlay: list[Resource]) -> None:
    for service in of_kind(overlay, "Service"):
        matches = [
            workload
            for workload in overlay
            if workload["kind"] in {"Deployment", "StatefulSet"}
            and service["spec"]["selector"].items()
            <= workload["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matches, f"Service {service['metadata']['name']} selects no pods"
        ports = {p["name"] for w in matches for c in pod_spec(w)["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, service["metadata"]["name"]


def test_workers_scale_within_the_partitions_and_the_api_has_replicas(
    overlay: list[Resource],
) -> None:
    partitions = int(config(overlay)["FLOWSIGHT_TOPIC_PARTITIONS"])
    worker = named(overlay, "StatefulSet", "flowsight-worker")
    assert 1 <= worker["spec"]["replicas"] <= partitions
    claims = [claim["metadata"]["name"] for claim in worker["spec"]["volumeClaimTemplates"]]
    mounts = {m["name"]: m["mountPath"] for m in pod_spec(worker)["containers"][0]["volumeMounts"]}
    # The Faust data directory (FLOWSIGHT_DATA_DIR/faust) is on the pod's own volume.
    assert mounts[claims[0]] == config(overlay)["FLOWSIGHT_DATA_DIR"]
    assert named(overlay, "Deployment", "flowsight-api")["spec"]["replicas"] >= 2


def test_configuration_is_settings_flowsight_accepts(overlay: list[Resource]) -> None:
    values = config(overlay)
    fields = {f"FLOWSIGHT_{name.upper()}" for name in Settings.model_fields}
    assert set(values) <= fields, f"unknown settings: {set(values) - fields}"
    assert not set(values) & SECRET_SETTINGS, "a secret in the ConfigMap"
    # With the Secret's keys filled in, the settings start (no refusal of the combination).
    secrets = {key: "0123456789abcdef" * 3 for key in SECRET_SETTINGS} | {
        "FLOWSIGHT_ALERT_ROUTES": ""
    }
    overrides: dict[str, Any] = {
        k.removeprefix("FLOWSIGHT_").lower(): v for k, v in (values | secrets).items()
    }
    settings = Settings(_env_file=None, **overrides)
    assert settings.environment == "production"
    for workload, _ in containers(overlay):
        sources = pod_spec(workload)["containers"][0]["envFrom"]
        assert {"configMapRef": {"name": "flowsight-config"}} in sources
        assert {"secretRef": {"name": "flowsight-secrets"}} in sources


def test_every_secret_value_is_a_placeholder(overlay: list[Resource]) -> None:
    example = load(K8S / "secret.example.yaml")
    assert [s["metadata"]["name"] for s in example] == ["flowsight-secrets"]
    assert set(example[0]["stringData"]) == SECRET_SETTINGS
    for secret in [*example, *of_kind(overlay, "Secret")]:
        assert "data" not in secret, "base64 data cannot be seen to be a placeholder"
        for key, value in secret.get("stringData", {}).items():
            assert value.startswith(PLACEHOLDER), f"{key} holds a value, not a placeholder"


def test_network_policies_admit_only_the_api_port_and_prometheus(
    overlay: list[Resource],
) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(overlay, "NetworkPolicy")}
    deny = policies["flowsight-default-deny-ingress"]
    assert deny["podSelector"] == {} and "ingress" not in deny
    api = policies["flowsight-api-ingress"]["ingress"]
    assert [port for rule in api for port in rule["ports"]] == [{"port": 8000, "protocol": "TCP"}]
    (worker,) = policies["flowsight-worker-metrics"]["ingress"]
    assert worker["ports"] == [{"port": 6067, "protocol": "TCP"}]
    assert [peer["podSelector"]["matchLabels"] for peer in worker["from"]] == [
        {"app.kubernetes.io/name": "prometheus"}
    ]


def test_the_migration_runs_flowsight_db_upgrade(overlay: list[Resource]) -> None:
    (job,) = of_kind(overlay, "Job")
    assert pod_spec(job)["containers"][0]["args"] == ["flowsight", "db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] == "Never"


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_the_renderer_agrees_with_kubectl_kustomize(directory: Path) -> None:
    kubectl = ensure_program("kubectl", "kubectl")  # Debian's kubectl has kustomize built in
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    theirs = [document for document in yaml.safe_load_all(done.stdout) if document]

    def keyed(resources: list[Resource]) -> dict[tuple[str, str], Resource]:
        return {(r["kind"], r["metadata"]["name"]): r for r in resources}

    assert keyed(rendered(directory)) == keyed(theirs)
