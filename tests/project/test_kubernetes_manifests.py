"""deploy/kubernetes: valid against the Kubernetes schemas (offline), complete, and safe.

What a platform team relies on when it runs `kubectl apply -k deploy/kubernetes`: every resource
is listed and valid; pods are non-root with a read-only root filesystem; secrets arrive only by
reference; rollouts never drop a serving pod; beat is one; the database budget holds.
"""

from __future__ import annotations

import re
import runpy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.processes import BASE_DIR

MANIFESTS = BASE_DIR / "deploy" / "kubernetes"
# The oldest Kubernetes release the manifests are for, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
# Never in the ConfigMap, always by secretKeyRef (files: mounted Secrets).
SECRET_SETTINGS = {
    "DJANGO_SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "FIELD_HMAC_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "OIDC_CLIENT_SECRET",
    "STAFF_OIDC_CLIENT_SECRET",
    "METRICS_TOKEN",
    "TOKEN_NOTIFICATION_SECRET",
    "CARD_EVENTS_API_KEY",
}
# ConfigMap keys that are not settings: read by the manifests themselves.
MANIFEST_ONLY_KEYS = {"WORKER_CONCURRENCY", "WORKER_DATABASE_POOL_SIZE"}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _documents() if doc["kind"] == kind}


def _workloads() -> list[dict[str, Any]]:
    return [doc for _, doc in _documents() if doc["kind"] in ("Deployment", "Job")]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_the_kustomization_lists_every_manifest_and_only_those():
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert kustomization["namespace"] == "issuer-portal"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_resource_is_valid_against_the_kubernetes_schemas(version):
    for name, document in _documents():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {document['kind']} invalid for {version}: {error.message}")


def test_the_validator_refuses_what_kubernetes_would_refuse():
    web = _by_kind("Deployment")["portal-web"]
    broken = yaml.safe_load(yaml.safe_dump(web))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_every_container_is_locked_down_and_sized():
    for workload in _workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        writable = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in _containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] != 0, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, where
            for mount in container["volumeMounts"]:
                assert mount.get("readOnly") or mount["name"] in writable, (where, mount)


def test_secrets_arrive_only_by_reference_and_nothing_secret_is_in_the_repository():
    config = _by_kind("ConfigMap")["portal-config"]["data"]
    assert not SECRET_SETTINGS & set(config)
    assert not _by_kind("Secret"), "Secrets are created outside the repository"
    for workload in _workloads():
        for container in _containers(workload):
            env = {item["name"]: item for item in container.get("env", [])}
            for name in SECRET_SETTINGS:
                assert "value" not in env[name], name
                assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "portal-secrets"
            for item in env.values():
                assert item["name"] in SECRET_SETTINGS or "configMapKeyRef" in item["valueFrom"]
    text = "\n".join(p.read_text() for p in MANIFESTS.glob("*.yaml"))
    assert "PRIVATE KEY" not in text and not re.search(r"://[^/\s:]+:[^@\s]+@", text)


def test_every_configured_variable_is_a_documented_setting():
    readme = (BASE_DIR / "README.md").read_text()
    config = _by_kind("ConfigMap")["portal-config"]["data"]
    for key in set(config) - MANIFEST_ONLY_KEYS:
        assert f"`{key}`" in readme, key
    for key in MANIFEST_ONLY_KEYS:
        assert f"`{key}`" in readme, key


def test_web_rollouts_never_drop_a_serving_pod_and_requests_finish_before_the_pod_goes():
    web = _by_kind("Deployment")["portal-web"]
    assert web["spec"]["replicas"] >= 2
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = web["spec"]["template"]["spec"]
    gunicorn = pod["containers"][0]
    assert gunicorn["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gunicorn["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # Loopback is always an allowed host: the kubelet's probes are not refused as DisallowedHost.
    assert gunicorn["readinessProbe"]["httpGet"]["httpHeaders"] == [
        {"name": "Host", "value": "localhost"}
    ]
    shipped = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    pre_stop = int(gunicorn["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert shipped["graceful_timeout"] >= shipped["timeout"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + shipped["graceful_timeout"]
    assert pod["initContainers"][0]["name"] == "wait-for-migrations"
    assert "migrate --check" in " ".join(pod["initContainers"][0]["command"])
    pdb = _by_kind("PodDisruptionBudget")["portal-web"]
    assert pdb["spec"]["selector"]["matchLabels"] == web["spec"]["selector"]["matchLabels"]
    service = _by_kind("Service")["portal-web"]
    assert service["spec"]["selector"] == web["spec"]["template"]["metadata"]["labels"]


def test_there_is_exactly_one_beat_and_it_is_replaced_not_rolled():
    beat = _by_kind("Deployment")["portal-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    hpas = _by_kind("HorizontalPodAutoscaler")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == {
        "portal-web",
        "portal-worker",
    }


def test_migrations_run_as_a_job_that_a_later_release_can_create_again():
    job = _by_kind("Job")["portal-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == [
        "migrate",
        "--noinput",
    ]
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_database_connections_stay_within_postgresqls_default_budget():
    config = _by_kind("ConfigMap")["portal-config"]["data"]
    hpas = _by_kind("HorizontalPodAutoscaler")
    web = hpas["portal-web"]["spec"]["maxReplicas"] * int(config["WEB_CONCURRENCY"])
    web *= int(config["DATABASE_POOL_SIZE"])
    workers = hpas["portal-worker"]["spec"]["maxReplicas"] * int(
        config["WORKER_DATABASE_POOL_SIZE"]
    )
    # max_connections 100, superuser_reserved_connections 3; beat and the migrations Job: 2.
    assert web + workers + 2 <= 97
    worker = _by_kind("Deployment")["portal-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert "--pool=threads" in worker["command"]  # one process: one pool per pod
    assert "--concurrency=$(WORKER_CONCURRENCY)" in worker["command"]
    assert "WORKER_CONCURRENCY" in {item["name"] for item in worker["env"]}


def test_egress_is_denied_except_to_the_portals_dependencies():
    policies = _by_kind("NetworkPolicy")
    deny = policies["portal-default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "egress" not in deny and "ingress" not in deny
    ports = {
        port["port"]
        for rule in policies["portal-egress"]["spec"]["egress"]
        for port in rule["ports"]
    }
    # DNS, PostgreSQL (and PgBouncer), Redis, RabbitMQ, HTTPS to Vipps, token service and IdP.
    assert ports == {53, 5432, 6432, 6379, 6380, 5671, 5672, 443}
    web_ingress = policies["portal-web-ingress"]["spec"]
    assert web_ingress["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
