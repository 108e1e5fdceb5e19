"""Deployment files: the systemd unit verifies, compose/Kubernetes/Containerfile reference only files that
exist, and the example configurations load with netpoll's own loaders."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from netpoll.config import load_config
from netpoll.inventory.loader import load_inventory
from tests.harness.mosquitto import MqttBroker
from tests.harness.process import require_binary, require_root, unavailable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "netpoll.service"
INSTALLED_EXEC = "/opt/netpoll/.venv/bin/netpoll"
SECRETS = {"NETPOLL_SNMP_COMMUNITY": "test-community", "NETPOLL_INFLUXDB__TOKEN": "test-token"}


# ---- systemd ---------------------------------------------------------------------------------------------


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_unit_runs_unprivileged_with_only_cap_net_raw_and_bind_service() -> None:
    settings = unit_settings(UNIT.read_text(encoding="utf-8"))
    expected = {
        "User": "netpoll",
        # ICMP echo over raw sockets; the trap receiver's UDP port 162 (docs/traps.md).
        "AmbientCapabilities": "CAP_NET_RAW CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet": "CAP_NET_RAW CAP_NET_BIND_SERVICE",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "netpoll",
        "EnvironmentFile": "/etc/netpoll/netpoll.env",
        "Restart": "on-failure",
        # Bounds (issue 16): memory, tasks, and addresses a poller never needs.
        "MemoryMax": "1G",
        "TasksMax": "256",
        "IPAddressDeny": "link-local multicast",
    }
    for key, value in expected.items():
        assert settings.get(key) == [value], f"{key}: {settings.get(key)}"
    exec_start = shlex.split(settings["ExecStart"][0])
    assert exec_start[:2] == [INSTALLED_EXEC, "run"]
    assert "--config" in exec_start


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    # Debian package "systemd" (make test installs it as root); skips elsewhere, fails under CI=true.
    return require_binary("systemd-analyze", "Debian package systemd")


def verifiable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's netpoll entry point.

    ``systemd-analyze verify`` checks that the ExecStart binary exists and is executable. The unit names
    where the README installs netpoll (/opt/netpoll/.venv), which does not exist on a test machine, so the
    copy points at the entry point of the venv running the tests: the same program, an existing path.
    """
    entry = Path(sys.executable).parent / "netpoll"
    if not entry.exists():
        entry = Path(shutil.which("netpoll") or "/bin/true")
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED_EXEC in text
    copy = tmp_path / "netpoll.service"
    copy.write_text(text.replace(INSTALLED_EXEC, str(entry)), encoding="utf-8")
    return copy


def test_systemd_analyze_verify(systemd_analyze: str, tmp_path: Path) -> None:
    copy = verifiable_copy(tmp_path)
    result = subprocess.run(
        [systemd_analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    # verify prints warnings (unknown keys, bad values) without failing: there must be none.
    assert result.stderr.strip() == "", result.stderr


def test_systemd_analyze_verify_original_only_misses_the_binary(systemd_analyze: str) -> None:
    # The unmodified file: its only complaint may be the not-yet-installed /opt/netpoll binary.
    result = subprocess.run(
        [systemd_analyze, "verify", str(UNIT)], capture_output=True, text=True, timeout=60, check=False
    )
    other = [line for line in result.stderr.splitlines() if line.strip() and INSTALLED_EXEC not in line]
    assert other == [], result.stderr


def security_exposure(systemd_analyze: str, unit: Path) -> float:
    """``systemd-analyze security`` of a unit file (and its ``.d`` drop-ins): 0 locked down .. 10 open."""
    result = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert found is not None, f"no exposure level: {result.stdout[-500:]} {result.stderr[-500:]}"
    return float(found.group(1))


def test_systemd_security_exposure(systemd_analyze: str, tmp_path: Path) -> None:
    # 1.6-1.7 with systemd 252; "OK" is below 4. The memory and task limits and the address deny list must
    # not cost any of it back.
    exposure = security_exposure(systemd_analyze, verifiable_copy(tmp_path))
    assert exposure <= 2.0, exposure


def test_narrowing_drop_in_verifies_and_lowers_exposure(systemd_analyze: str, tmp_path: Path) -> None:
    # docs/deployment.md: the example drop-in narrows the addresses to an allow list.
    copy = verifiable_copy(tmp_path)
    shipped = security_exposure(systemd_analyze, copy)
    drop_ins = tmp_path / "netpoll.service.d"
    drop_ins.mkdir()
    example = DEPLOY / "systemd" / "addresses.conf.example"
    (drop_ins / "addresses.conf").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [systemd_analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stderr.strip()) == (0, ""), result.stderr
    assert security_exposure(systemd_analyze, copy) < shipped
    settings = unit_settings(example.read_text(encoding="utf-8"))
    assert settings["IPAddressDeny"] == ["any"]
    assert "localhost" in settings["IPAddressAllow"]


# ---- compose -----------------------------------------------------------------------------------------------


def load_yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def bind_source(volume: str | dict[str, Any]) -> str | None:
    """The host path of a bind mount (short or long syntax), None for a named volume or tmpfs."""
    if isinstance(volume, dict):
        return volume["source"] if volume.get("type") == "bind" else None
    source = volume.split(":", 1)[0]
    return source if source.startswith((".", "/", "~")) else None


def test_compose_parses_and_references_existing_files() -> None:
    compose = load_yaml_file(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert set(services) >= {"netpoll", "influxdb", "mosquitto", "grafana"}
    assert services["influxdb"]["image"].startswith("influxdb:2")
    named = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert context.is_dir(), name
            assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = bind_source(volume)
            if source is None:
                assert str(volume).split(":", 1)[0] in named, f"{name}: undeclared volume {volume}"
            else:
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
        for env_file in service.get("env_file", []):
            path = env_file if isinstance(env_file, str) else env_file["path"]
            assert (DEPLOY / path).exists(), f"{name}: env_file {path}"
        for port in service.get("ports", []):
            # Nothing published beyond the host's loopback.
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    # Every required ${VAR:?...} has a line in .env.example.
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = {
        line.split("=", 1)[0] for line in (DEPLOY / ".env.example").read_text().splitlines() if "=" in line
    }
    assert required <= example, required - example


def test_compose_mounts_grafana_provisioning_where_it_looks() -> None:
    grafana = load_yaml_file(DEPLOY / "compose.yaml")["services"]["grafana"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provider = load_yaml_file(DEPLOY / "grafana/provisioning/dashboards/netpoll.yaml")["providers"][0]
    assert provider["type"] == "file"
    dashboards_dir = provider["options"]["path"]
    assert mounts[dashboards_dir] == "./grafana/dashboards"
    assert list((DEPLOY / "grafana/dashboards").glob("*.json"))
    datasource = load_yaml_file(DEPLOY / "grafana/provisioning/datasources/netpoll.yaml")["datasources"][0]
    assert datasource["uid"] == "netpoll-influxdb"
    assert datasource["type"] == "influxdb"
    assert datasource["jsonData"]["version"] == "InfluxQL"
    # The datasource's ${VARS} are all set in the grafana service.
    used = set(
        re.findall(r"\$\{(\w+)\}", (DEPLOY / "grafana/provisioning/datasources/netpoll.yaml").read_text())
    )
    assert used <= set(grafana["environment"]), used - set(grafana["environment"])


def test_compose_broker_requires_the_generated_password() -> None:
    services = load_yaml_file(DEPLOY / "compose.yaml")["services"]
    conf = dict(
        line.split(None, 1)
        for line in (DEPLOY / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert conf["allow_anonymous"] == "false"
    # mosquitto reads the password file from the volume mqtt-auth writes, and starts only after it did.
    auth_dir = next(v.split(":")[1] for v in services["mosquitto"]["volumes"] if v.startswith("mqtt-auth:"))
    assert conf["password_file"] == f"{auth_dir}/passwd"
    for name in ("mosquitto", "netpoll"):
        assert services[name]["depends_on"]["mqtt-auth"]["condition"] == "service_completed_successfully"
    # netpoll reads its password from the same volume, mounted read-only.
    password_file = services["netpoll"]["environment"]["NETPOLL_MQTT__PASSWORD_FILE"]
    netpoll_dir = next(v.split(":")[1] for v in services["netpoll"]["volumes"] if v.startswith("mqtt-auth:"))
    assert f"mqtt-auth:{netpoll_dir}:ro" in services["netpoll"]["volumes"]
    assert password_file == f"{netpoll_dir}/netpoll.password"
    assert not any("MQTT__PASSWORD" in key for key in services["netpoll"]["environment"] if "FILE" not in key)
    # The generator is valid shell once compose has turned $$ into $, and writes both files.
    auth = services["mqtt-auth"]
    assert auth["entrypoint"] == ["/bin/sh", "-ec"]
    script = auth["command"][0].replace("$$", "$")
    subprocess.run(["sh", "-n", "-c", script], check=True, timeout=10)
    assert 'mosquitto_passwd -b passwd netpoll "$(cat netpoll.password)"' in script
    assert "netpoll.password" in script


def run_mqtt_auth(auth_dir: Path) -> None:
    """Run compose's mqtt-auth script (as compose would, $$ unescaped) on ``auth_dir`` instead of /auth."""
    require_binary("mosquitto_passwd", "Debian package mosquitto")
    require_root("chown to the broker's and netpoll's users")
    command = load_yaml_file(DEPLOY / "compose.yaml")["services"]["mqtt-auth"]["command"][0]
    script = command.replace("$$", "$").replace("/auth", str(auth_dir))
    subprocess.run(["sh", "-ec", script], check=True, timeout=30, capture_output=True)


def generated_mqtt_auth(auth: Path) -> str:
    """Run mqtt-auth twice on ``auth``, a user added by hand in between; check the files; the password."""
    auth.mkdir()
    run_mqtt_auth(auth)
    password = (auth / "netpoll.password").read_text(encoding="utf-8")
    assert len(password) >= 32
    assert stat.S_IMODE((auth / "netpoll.password").stat().st_mode) == 0o440
    assert (auth / "netpoll.password").stat().st_gid == 10001
    assert stat.S_IMODE((auth / "passwd").stat().st_mode) == 0o600
    # A second start keeps the password and the users added by hand.
    add_user = ["mosquitto_passwd", "-b", str(auth / "passwd"), "grafana", "x" * 12]
    subprocess.run(add_user, check=True, timeout=10)
    run_mqtt_auth(auth)
    assert (auth / "netpoll.password").read_text(encoding="utf-8") == password
    users = [line.split(":")[0] for line in (auth / "passwd").read_text(encoding="utf-8").splitlines()]
    assert sorted(users) == ["grafana", "netpoll"]
    return password


@pytest.mark.network
async def test_compose_mqtt_auth_makes_a_broker_that_refuses_anonymous_clients(
    tmp_path: Path, mosquitto_factory: Callable[..., MqttBroker]
) -> None:
    auth = tmp_path / "auth"
    password = generated_mqtt_auth(auth)
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    assert "allow_anonymous false" in conf.splitlines()
    broker = mosquitto_factory(extra_config=f"allow_anonymous false\npassword_file {auth}/passwd")
    async with aiomqtt.Client(broker.host, broker.port, username="netpoll", password=password) as client:
        await client.publish("netpoll/test", b"ok", qos=1)
    for username, secret in ((None, None), ("netpoll", "wrong-password")):
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client(broker.host, broker.port, username=username, password=secret):
                pass


def test_compose_images_are_pinned() -> None:
    # An exact release (x.y.z) or a digest, never a moving tag like :2 or :latest.
    for name, service in load_yaml_file(DEPLOY / "compose.yaml")["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        assert re.search(r":\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$", image), (
            f"{name}: {image}"
        )


def test_influxdb_init_script_is_valid_shell() -> None:
    script = DEPLOY / "influxdb" / "init-dbrp.sh"
    subprocess.run(["sh", "-n", str(script)], check=True, timeout=10)
    assert "v1 dbrp create" in script.read_text()


# ---- container image ---------------------------------------------------------------------------------------


def test_containerfile_base_is_pinned_by_digest() -> None:
    froms = [
        line
        for line in (DEPLOY / "Containerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("FROM ")
    ]
    assert froms
    for line in froms:
        assert re.fullmatch(r"FROM \S+:\S+@sha256:[0-9a-f]{64}( AS \w+)?", line), line


def locked_requirements() -> dict[str, tuple[str, list[str]]]:
    """deploy/requirements.txt: name -> (pinned version, sha256 hashes)."""
    text = (DEPLOY / "requirements.txt").read_text(encoding="utf-8").replace("\\\n", " ")
    locked = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        name, version = requirement.split("==")
        hashes = [option.removeprefix("--hash=sha256:") for option in options]
        locked[canonicalize_name(name)] = (version, hashes)
    return locked


def test_requirements_lock_is_hashed_and_covers_pyproject() -> None:
    locked = locked_requirements()
    for name, (version, hashes) in locked.items():
        assert hashes, f"{name}=={version}: no --hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes), name
    # Every runtime dependency and the build backend is locked at a version pyproject.toml accepts:
    # the lock is regenerated whenever the ranges move (docs/deployment.md, "Supply chain").
    with (ROOT / "pyproject.toml").open("rb") as file:
        pyproject = tomllib.load(file)
    wanted = pyproject["project"]["dependencies"] + pyproject["build-system"]["requires"]
    for spec in map(Requirement, wanted):
        name = canonicalize_name(spec.name)
        regenerate = "regenerate it with pip-compile (docs/deployment.md, 'Supply chain')"
        assert name in locked, f"{spec} is not in deploy/requirements.txt: {regenerate}"
        assert spec.specifier.contains(locked[name][0], prereleases=True), (
            f"{spec}: deploy/requirements.txt locks {locked[name][0]}: {regenerate}"
        )


def test_containerfile_installs_only_hashed_wheels() -> None:
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    pip_lines = [line for line in text.splitlines() if "pip install" in line]
    assert pip_lines
    hashed = [line for line in pip_lines if "-r deploy/requirements.txt" in line]
    assert len(hashed) == 1
    assert {"--require-hashes", "--no-deps", "--only-binary"} <= set(hashed[0].split())
    # The project itself: no index, so nothing unhashed can come in; the locked backend builds it.
    (project,) = [line for line in pip_lines if line not in hashed]
    assert {"--no-index", "--no-deps", "--no-build-isolation"} <= set(project.split())
    assert "COPY deploy/requirements.txt ./deploy/requirements.txt" in text


def test_containerfile_copies_existing_paths_and_runs_unprivileged() -> None:
    lines = (DEPLOY / "Containerfile").read_text(encoding="utf-8").splitlines()
    copies = [shlex.split(line)[1:] for line in lines if line.startswith("COPY ") and "--from" not in line]
    assert copies
    for args in copies:
        for source in args[:-1]:  # context is the repository root (compose: context ..)
            assert (ROOT / source).exists(), f"COPY {source}: missing"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert not users[-1].startswith(("0", "root"))
    assert any(line.startswith("ENTRYPOINT") for line in lines)


# ---- Kubernetes --------------------------------------------------------------------------------------------

K8S = DEPLOY / "k8s"
SECRET_DIR = "/run/secrets/netpoll"
# The oldest Kubernetes the manifests support (the pod-index label) and the newest schema bundled.
KUBE_VERSIONS = ("1.28.0", "latest")


def k8s_objects() -> list[dict[str, Any]]:
    kustomization = load_yaml_file(K8S / "kustomization.yaml")
    objects = []
    for resource in kustomization["resources"]:
        path = K8S / resource
        assert path.is_file(), f"kustomization resource {resource} missing"
        objects += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return objects


def generated_configmaps() -> list[dict[str, Any]]:
    """The ConfigMaps of configMapGenerator as kustomize makes them (less the hash suffix of the name)."""
    kustomization = load_yaml_file(K8S / "kustomization.yaml")
    configmaps = []
    for generator in kustomization.get("configMapGenerator", []):
        data = {}
        for entry in generator.get("files", []):
            key, _, source = entry.rpartition("=")
            path = K8S / source
            assert path.is_file(), f"configMapGenerator {generator['name']}: {source}"
            data[key or path.name] = path.read_text(encoding="utf-8")
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": generator["name"]},
            "data": data,
        }
        if generator.get("options", {}).get("immutable"):
            configmap["immutable"] = True
        configmaps.append(configmap)
    return configmaps


def by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    return kinds


def statefulset() -> dict[str, Any]:
    (sts,) = by_kind(k8s_objects())["StatefulSet"]
    return sts


def validate_schemas(objects: list[dict[str, Any]]) -> list[str]:
    """Validate every object against the Kubernetes API schemas bundled with kubernetes-validate (offline)."""
    try:
        import kubernetes_validate
    except ImportError:
        unavailable("kubernetes-validate not installed: pip install -e '.[test]'")
    validated = []
    for version in KUBE_VERSIONS:
        wanted = kubernetes_validate.latest_version() if version == "latest" else version
        for obj in objects:
            # strict: unknown fields are errors too (a misspelt key would otherwise be dropped silently).
            kubernetes_validate.validate(obj, wanted, strict=True)
            validated.append(f"{obj['kind']}/{obj['metadata']['name']}@{wanted}")
    return validated


def test_k8s_manifests_validate_against_the_api_schemas() -> None:
    objects = k8s_objects() + generated_configmaps()
    kinds = {obj["kind"] for obj in objects}
    assert kinds >= {"Namespace", "Secret", "Service", "StatefulSet", "NetworkPolicy", "ConfigMap"}
    assert len(validate_schemas(objects)) == len(objects) * len(KUBE_VERSIONS)


@pytest.mark.external_tool
def test_k8s_manifests_validate_after_a_kustomize_build() -> None:
    # What `kubectl apply -k` sends: hashed ConfigMap names, namespace and labels added. kubectl (kustomize
    # built in) comes with some machine images, not from a Debian package or PyPI; without it this test skips
    # (marked external_tool, so CI=true does not turn the skip into a failure). The raw manifests and the
    # generated ConfigMaps are schema-checked without kubectl by the test above.
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (kustomize build not checked)")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    validate_schemas(objects)
    kinds = by_kind(objects)
    assert all(obj["metadata"].get("namespace") == "netpoll" for obj in objects if obj["kind"] != "Namespace")
    # Every ConfigMap is immutable and versioned, and the pods mount exactly those versions.
    configmaps = {obj["metadata"]["name"] for obj in kinds["ConfigMap"]}
    assert all(obj.get("immutable") is True for obj in kinds["ConfigMap"])
    (sts,) = kinds["StatefulSet"]
    mounted = {v["configMap"]["name"] for v in sts["spec"]["template"]["spec"]["volumes"] if "configMap" in v}
    assert mounted == configmaps
    for name in ("netpoll-config", "netpoll-inventory", "netpoll-ca"):
        assert any(re.fullmatch(rf"{name}-[a-z0-9]{{10}}", found) for found in mounted), (name, mounted)


def test_k8s_manifests_reference_existing_things() -> None:
    generated = {configmap["metadata"]["name"] for configmap in generated_configmaps()}
    kinds = by_kind(k8s_objects())
    secrets = {obj["metadata"]["name"] for obj in kinds.get("Secret", [])}
    services = {obj["metadata"]["name"]: obj for obj in kinds.get("Service", [])}
    sts = statefulset()
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()

    # The governing Service exists, selects these pods and exposes /metrics.
    service = services[spec["serviceName"]]
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = pod["containers"]
    port_names = {port["name"] for port in container["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names

    # Volumes: ConfigMaps are generated, Secrets defined, PVCs templated; every mount has a volume.
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    claims = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates", [])}
    for mount in container["volumeMounts"]:
        assert mount["name"] in volumes or mount["name"] in claims, mount
    for volume in volumes.values():
        if "configMap" in volume:
            assert volume["configMap"]["name"] in generated, volume
        if "secret" in volume:
            assert volume["secret"]["secretName"] in secrets, volume

    # The shard comes from the pod ordinal and the shard count matches the replica count.
    env = {item["name"]: item for item in container["env"]}
    assert env["NETPOLL_SHARDS"]["value"] == str(spec["replicas"])
    assert "pod-index" in env["NETPOLL_SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert env["NETPOLL_SHARD"]["value"] == "$(NETPOLL_SHARD_INDEX)/$(NETPOLL_SHARDS)"

    # Unprivileged: non-root, no capabilities, ICMP through ping_group_range.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    sysctls = {item["name"]: item["value"] for item in pod["securityContext"]["sysctls"]}
    assert "net.ipv4.ping_group_range" in sysctls


def test_k8s_pod_is_bounded() -> None:
    pod = statefulset()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory", "ephemeral-storage"} <= set(container["resources"][bound]), bound
    for volume in pod["volumes"]:
        if "emptyDir" in volume:
            assert volume["emptyDir"].get("sizeLimit"), volume


def test_k8s_secrets_are_files_not_environment() -> None:
    (secret,) = by_kind(k8s_objects())["Secret"]
    pod = statefulset()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "envFrom" not in container
    assert not [item for item in container["env"] if "secretKeyRef" in item.get("valueFrom", {})]
    (volume,) = [volume for volume in pod["volumes"] if "secret" in volume]
    assert volume["secret"]["defaultMode"] == 0o440  # group 10001 (fsGroup) only
    (mount,) = [mount for mount in container["volumeMounts"] if mount["name"] == volume["name"]]
    assert (mount["mountPath"], mount["readOnly"]) == (SECRET_DIR, True)
    # Every *_file of the configuration and the inventories names a key of the Secret, and nothing reads a
    # secret from the environment any more.
    texts = [
        configmap["data"]
        for configmap in generated_configmaps()
        if configmap["metadata"]["name"] != "netpoll-ca"
    ]
    named = set()
    for data in texts:
        for text in data.values():
            assert "${" not in text
            named |= set(re.findall(rf"_file: {re.escape(SECRET_DIR)}/(\S+)", text))
    assert named
    assert named <= set(secret["stringData"]), named - set(secret["stringData"])


def test_k8s_inventory_reaches_pods_only_by_rollout() -> None:
    kustomization = load_yaml_file(K8S / "kustomization.yaml")
    for generator in kustomization["configMapGenerator"]:
        options = generator.get("options", {})
        assert options.get("immutable") is True, generator["name"]
        assert not options.get("disableNameSuffixHash"), generator["name"]
    assert not kustomization.get("generatorOptions", {}).get("disableNameSuffixHash")


def test_k8s_network_policy() -> None:
    (policy,) = by_kind(k8s_objects())["NetworkPolicy"]
    spec = policy["spec"]
    template = statefulset()["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert spec["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]

    # Ingress: /metrics only, from pods of the monitoring namespace with Prometheus's label. Namespace and pod
    # selector in ONE peer (two peers would allow either: every pod there, or such pods anywhere).
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": "metrics"}]
    assert "metrics" in {port["name"] for port in container["ports"]}
    (peer,) = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert peer["podSelector"]["matchLabels"]

    # Egress: every rule names its destinations, never the whole world or whole namespaces.
    ports: dict[str, set[tuple[str, int]]] = {}
    for rule in spec["egress"]:
        assert rule.get("to"), rule
        for peer in rule["to"]:
            if "ipBlock" in peer:
                assert peer["ipBlock"]["cidr"] not in ("0.0.0.0/0", "::/0"), peer
            else:
                assert peer["podSelector"]["matchLabels"], peer
                target = peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name") or peer[
                    "podSelector"
                ]["matchLabels"].get("k8s-app")
                ports.setdefault(target, set()).update((p["protocol"], p["port"]) for p in rule["ports"])
        if "ports" not in rule:  # ICMP: NetworkPolicy cannot name it, so only address blocks, no selectors
            assert all("ipBlock" in peer for peer in rule["to"]), rule
    config = yaml.safe_load(
        next(c for c in generated_configmaps() if c["metadata"]["name"] == "netpoll-config")["data"][
            "netpoll.yaml"
        ]
    )
    influx_port = int(config["influxdb"]["url"].rsplit(":", 1)[1])
    assert ports == {
        "kube-dns": {("UDP", 53), ("TCP", 53)},
        "influxdb": {("TCP", influx_port)},
        "mosquitto": {("TCP", config["mqtt"]["port"])},
    }
    snmp = [rule for rule in spec["egress"] if rule.get("ports") == [{"protocol": "UDP", "port": 161}]]
    assert snmp
    assert all("ipBlock" in peer for peer in snmp[0]["to"])


def test_k8s_example_uses_tls_and_authentication() -> None:
    config = yaml.safe_load((K8S / "config" / "netpoll.yaml").read_text(encoding="utf-8"))
    assert config["influxdb"]["url"].startswith("https://")
    assert config["influxdb"]["token_file"].startswith(SECRET_DIR)
    mqtt = config["mqtt"]
    assert (mqtt["port"], bool(mqtt["tls"]), bool(mqtt["username"])) == (8883, True, True)
    assert mqtt["password_file"].startswith(SECRET_DIR)
    assert not mqtt["tls"].get("insecure", False)
    # The InfluxDB client verifies against the same CA file as MQTT.
    (container,) = statefulset()["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["SSL_CERT_FILE"] == mqtt["tls"]["ca_file"]


# ---- the example configurations load -------------------------------------------------------------------


def test_example_config_and_inventory_load() -> None:
    config = load_config(DEPLOY / "config" / "netpoll.yaml", environ=SECRETS)
    assert config.influxdb is not None
    assert config.influxdb.token is not None
    inventory = load_inventory(list(config.inventories), environ=SECRETS)
    assert len(inventory) >= 1
    assert all(device.name for device in inventory)


def test_env_example_sources_as_the_readme_check_does() -> None:
    # README "Single host" runs `netpoll check` as the unit would: sh -c 'set -a && . netpoll.env && ...'.
    # (`env $(cat netpoll.env)` would run the first comment word as a command.)
    result = subprocess.run(
        ["sh", "-c", 'set -a && . "$1" && exec env', "sh", str(DEPLOY / "config" / "netpoll.env.example")],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    environ = dict(line.split("=", 1) for line in result.stdout.splitlines() if line.startswith("NETPOLL_"))
    assert set(SECRETS) <= set(environ)
    config = load_config(DEPLOY / "config" / "netpoll.yaml", environ=environ)
    assert config.influxdb is not None
    assert config.influxdb.token is not None
    assert len(load_inventory(list(config.inventories), environ=environ)) >= 1


def test_compose_overrides_load(tmp_path: Path) -> None:
    compose = load_yaml_file(DEPLOY / "compose.yaml")
    env = {k: str(v) for k, v in compose["services"]["netpoll"]["environment"].items() if "${" not in str(v)}
    # The password file mqtt-auth generates, where the volume holds it in the container.
    mounted = env["NETPOLL_MQTT__PASSWORD_FILE"]
    assert mounted.startswith("/run/secrets/mqtt/")
    env["NETPOLL_MQTT__PASSWORD_FILE"] = str(tmp_path / Path(mounted).name)
    (tmp_path / Path(mounted).name).write_text("generated-password\n", encoding="utf-8")
    config = load_config(DEPLOY / "config" / "netpoll.yaml", environ={**env, **SECRETS})
    assert config.influxdb is not None
    assert config.influxdb.url == "http://influxdb:8086"
    assert config.mqtt is not None
    assert config.mqtt.host == "mosquitto"
    assert config.mqtt.username == "netpoll"
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "generated-password"
    assert config.http.listen == "0.0.0.0:9108"


def lay_out_pod_files(root: Path) -> Path:
    """Write what a pod sees (ConfigMaps and the Secret at their mount paths) under ``root``.

    Paths inside the files are moved under ``root`` too; returns the configuration file.
    """
    kinds = by_kind(k8s_objects())
    (secret,) = kinds["Secret"]
    sources = {cm["metadata"]["name"]: cm["data"] for cm in generated_configmaps()}
    sources[secret["metadata"]["name"]] = secret["stringData"]
    pod = statefulset()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {
        v["name"]: (v.get("configMap") or {}).get("name") or (v.get("secret") or {}).get("secretName")
        for v in pod["volumes"]
    }
    mounts = [m for m in container["volumeMounts"] if volumes.get(m["name"])]
    prefixes = sorted((m["mountPath"] for m in mounts), key=len, reverse=True)

    def moved(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, f"{root}{prefix}")
        return text

    for mount in mounts:
        data = sources[volumes[mount["name"]]]
        target = Path(f"{root}{mount['mountPath']}")
        files = (
            {target: data[mount["subPath"]]}
            if "subPath" in mount
            else {target / k: v for k, v in data.items()}
        )
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(moved(text), encoding="utf-8")
    return Path(f"{root}/etc/netpoll/netpoll.yaml")


@pytest.mark.parametrize("ordinal", [0, 2])
def test_k8s_config_loads_from_the_pod_mounts(ordinal: int, tmp_path: Path) -> None:
    # Kubernetes expands $(NETPOLL_SHARD_INDEX)/$(NETPOLL_SHARDS) before the process starts. No secret in the
    # environment: the token, the MQTT password and the community come from the Secret's files.
    environ = {"NETPOLL_SHARD_INDEX": str(ordinal), "NETPOLL_SHARDS": "3", "NETPOLL_SHARD": f"{ordinal}/3"}
    config = load_config(lay_out_pod_files(tmp_path), environ=environ)
    assert config.shard == f"{ordinal}/3"
    assert config.http.listen == "0.0.0.0:9108"
    assert config.influxdb is not None
    assert config.influxdb.token is not None
    assert config.mqtt is not None
    assert config.mqtt.password is not None
    assert config.mqtt.tls is not None
    assert config.mqtt.tls.ca_file is not None
    assert config.mqtt.tls.ca_file.is_file()
    inventory = load_inventory(list(config.inventories), environ={}, secret_policy=config.secret_policy({}))
    assert len(inventory) >= 1


def test_every_shipped_command_line_parses() -> None:
    # The argv the unit, the image and the StatefulSet hand to netpoll must be valid for its own parser.
    from netpoll.cli.main import build_parser

    unit_argv = shlex.split(unit_settings(UNIT.read_text(encoding="utf-8"))["ExecStart"][0])[1:]
    cmd_line = next(
        line
        for line in (DEPLOY / "Containerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("CMD")
    )
    image_argv = json.loads(cmd_line.removeprefix("CMD").strip())
    (sts,) = [obj for obj in k8s_objects() if obj["kind"] == "StatefulSet"]
    k8s_argv = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    for argv in (unit_argv, image_argv, k8s_argv):
        args = build_parser().parse_args(argv)
        assert args.verb == "run"
        assert args.config == "/etc/netpoll/netpoll.yaml"
