"""Checks of deploy/: the image, the compose file, the Kubernetes manifests.

Nothing here needs a container engine: files are parsed and their promises checked
(probes, grace periods, non-root users, settings that exist). ``docker compose config``
runs only where a docker engine and the compose plugin answer.
"""

from __future__ import annotations

import http.server
import importlib.util
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.app import WEB_DIST
from sync.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SETTINGS = {name for name, _, _ in VARIABLES}
GRACE_SECONDS = 45  # >= preStop + uvicorn's graceful shutdown (30 s) + the final flush


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# --- YAML parses ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted([DEPLOY / "compose.yaml", *K8S.glob("*.yaml")]),
                         ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path.name} is empty"


# --- Dockerfile ----------------------------------------------------------------------------

def dockerfile() -> list[str]:
    """Instructions, with continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def instructions(name: str) -> list[str]:
    return [ln[len(name):].strip() for ln in dockerfile() if ln.upper().startswith(name + " ")]


def test_dockerfile_is_multi_stage_node_then_python() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 2
    assert stages[0].startswith("node:20")
    assert stages[-1].startswith("python:3.11-slim")
    runs = " ".join(instructions("RUN"))
    assert "npm ci" in runs and "npm run build" in runs
    assert any(re.search(r"pip install( [^ ]+)* \.( |$)", r) for r in instructions("RUN"))


def test_dockerfile_runs_as_non_root_with_healthcheck() -> None:
    users = instructions("USER")
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    runtime = dockerfile()[max(i for i, ln in enumerate(dockerfile()) if ln.startswith("FROM")):]
    assert any(ln.startswith("USER ") for ln in runtime), "USER must be set in the last stage"
    health = instructions("HEALTHCHECK")
    assert health and "CMD" in health[0]
    assert "8000" in instructions("EXPOSE")
    assert instructions("CMD")[-1] == '["arbor", "serve", "--host", "0.0.0.0", "--port", "8000"]'


def test_dockerfile_puts_web_dist_where_the_server_looks() -> None:
    # server/app.py: Path(server.__file__).parent.parent / "web" / "dist"
    assert WEB_DIST.parts[-2:] == ("web", "dist")
    copies = [c for c in instructions("COPY") if c.startswith("--from=") and "web/dist" in c]
    assert copies, "the built web app is not copied into the runtime image"
    dest = copies[-1].split()[-1]
    assert dest.rstrip("/").endswith("/site-packages/web/dist"), dest


def test_dockerfile_copies_only_files_that_exist() -> None:
    for args in instructions("COPY"):
        if args.startswith("--from="):
            continue
        *sources, _dest = args.split()
        for src in sources:
            assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"


# --- compose -------------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def arbor_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose()["services"].items()
            if str(svc.get("image", "")).startswith("arbor")}


def command(svc: dict[str, Any]) -> list[str]:
    cmd = svc.get("command", [])
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def test_compose_has_the_whole_stack() -> None:
    services = compose()["services"]
    images = {name: str(svc.get("image", "")) for name, svc in services.items()}
    assert any(i.startswith("postgres:16") for i in images.values())
    assert any(i.startswith("redis:7") for i in images.values())
    assert any("seaweedfs" in i or "minio" in i for i in images.values())
    arbor = arbor_services()
    serve = [n for n, s in arbor.items() if command(s)[:2] == ["arbor", "serve"]]
    work = [n for n, s in arbor.items() if command(s)[:2] == ["arbor", "worker"]]
    migrate = [n for n, s in arbor.items() if command(s)[:2] == ["arbor", "migrate"]]
    assert len(serve) >= 2 and len(work) >= 2 and len(migrate) == 1
    assert arbor[migrate[0]].get("restart") == "no"


def test_compose_arbor_env_names_only_real_settings() -> None:
    for name, svc in arbor_services().items():
        env = svc.get("environment", {})
        keys = set(env) if isinstance(env, dict) else {e.split("=", 1)[0] for e in env}
        unknown = keys - SETTINGS
        assert not unknown, f"{name}: {sorted(unknown)} are not Arbor settings"
        # `${VAR...}` in values: Arbor settings, or the one password shared with postgres
        values = " ".join(str(v) for v in (env.values() if isinstance(env, dict) else env))
        refs = set(re.findall(r"\$\{([A-Z0-9_]+)", values))
        assert refs - SETTINGS <= {"POSTGRES_PASSWORD"}, sorted(refs - SETTINGS)


def test_compose_ports_and_load_balancer() -> None:
    services = compose()["services"]
    for name, svc in arbor_services().items():
        if command(svc)[:2] == ["arbor", "serve"]:
            assert "8000" in [str(p) for p in svc.get("expose", [])], name
            assert int(svc.get("stop_grace_period", "0s").rstrip("s")) >= GRACE_SECONDS
    lb = [s for s in services.values() if str(s.get("image", "")).startswith(("nginx", "caddy"))]
    assert len(lb) == 1 and lb[0].get("ports")
    conf = (DEPLOY / "nginx.conf").read_text()
    for svc in (n for n, s in arbor_services().items() if command(s)[:2] == ["arbor", "serve"]):
        assert f"server {svc}:8000" in conf
    assert "proxy_set_header Upgrade $http_upgrade" in conf
    assert "Connection $connection_upgrade" in conf
    timeout = re.search(r"proxy_read_timeout (\d+)s", conf)
    assert timeout and int(timeout.group(1)) >= 3600
    for mount in (v for s in services.values() for v in s.get("volumes", [])):
        src = str(mount).split(":", 1)[0]
        if src.startswith("./"):
            assert (DEPLOY / src).exists(), src


def _docker_compose_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI on this machine"
    try:
        if subprocess.run(["docker", "compose", "version"], capture_output=True,
                          timeout=20).returncode != 0:
            return "the docker compose plugin is not installed"
        if subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode != 0:
            return "no docker engine answers (docker info fails)"
    except subprocess.TimeoutExpired:
        return "docker does not answer"
    return None


def test_docker_compose_config() -> None:
    reason = _docker_compose_unavailable()
    if reason is not None:
        pytest.skip(f"`docker compose config` not run: {reason}")
    result = subprocess.run(["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config",
                             "--quiet"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# --- Kubernetes ----------------------------------------------------------------------------

def manifests() -> list[dict[str, Any]]:
    return [d for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"
            for d in load_all(p)]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests() if m.get("kind") == kind]


def deployments() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for d in of_kind("Deployment"):
        pod = d["spec"]["template"]["spec"]
        for c in pod["containers"]:
            yield d["metadata"]["name"], pod, c


def test_k8s_has_server_worker_service_ingress_config_and_migration() -> None:
    names = {d["metadata"]["name"] for d in of_kind("Deployment")}
    assert {"arbor-server", "arbor-worker"} <= names
    assert of_kind("Service") and of_kind("Ingress") and of_kind("ConfigMap")
    assert of_kind("Secret")
    jobs = of_kind("Job")
    assert any(c["command"][:2] == ["arbor", "migrate"]
               for j in jobs for c in j["spec"]["template"]["spec"]["containers"])
    commands = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["command"]
                for d in of_kind("Deployment")}
    assert commands["arbor-server"][:2] == ["arbor", "serve"]
    assert commands["arbor-worker"][:2] == ["arbor", "worker"]


def test_k8s_deployments_have_probes() -> None:
    for name, _pod, c in deployments():
        for probe in ("readinessProbe", "livenessProbe"):
            assert probe in c, f"{name}: no {probe}"
            spec = c[probe]
            if "httpGet" in spec:
                assert spec["httpGet"]["path"] == "/healthz"
            else:  # workers have no HTTP port: the same checks, run in the container
                assert spec["exec"]["command"][-2:] == ["/opt/arbor/healthcheck.py", "worker"]
    server = next(c for name, _, c in deployments() if name == "arbor-server")
    assert server["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_k8s_deployments_stop_gracefully() -> None:
    for name, pod, c in deployments():
        assert pod.get("terminationGracePeriodSeconds", 30) >= GRACE_SECONDS, name
        pre = c.get("lifecycle", {}).get("preStop", {})
        assert pre.get("exec", {}).get("command", [None])[0] == "sleep" or "sleep" in pre, name


def test_k8s_containers_have_resources() -> None:
    for name, _pod, c in deployments():
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(res.get(part, {})), f"{name}: {part}"


def test_k8s_pods_run_as_non_root() -> None:
    pods = [(n, p, c) for n, p, c in deployments()]
    pods += [(j["metadata"]["name"], j["spec"]["template"]["spec"], c)
             for j in of_kind("Job") for c in j["spec"]["template"]["spec"]["containers"]]
    for name, pod, c in pods:
        ctx = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
        assert ctx.get("runAsNonRoot") is True, name
        assert ctx.get("runAsUser", 0) != 0, name
        assert ctx.get("allowPrivilegeEscalation") is False, name


def test_k8s_settings_are_real_settings() -> None:
    for cm in of_kind("ConfigMap"):
        assert set(cm["data"]) <= SETTINGS, sorted(set(cm["data"]) - SETTINGS)
    for secret in of_kind("Secret"):
        keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
        assert keys <= SETTINGS, sorted(keys - SETTINGS)
    cms = {m["metadata"]["name"] for m in of_kind("ConfigMap")}
    secrets = {m["metadata"]["name"] for m in of_kind("Secret")}
    pods = [d["spec"]["template"]["spec"] for d in of_kind("Deployment") + of_kind("Job")]
    for pod in pods:
        for c in pod["containers"]:
            for ref in c.get("envFrom", []):
                if "configMapRef" in ref:
                    assert ref["configMapRef"]["name"] in cms
                if "secretRef" in ref:
                    assert ref["secretRef"]["name"] in secrets
            for env in c.get("env", []):
                assert env["name"] in SETTINGS, env["name"]


def test_k8s_service_and_ingress_reach_the_servers() -> None:
    server = next(d for d in of_kind("Deployment") if d["metadata"]["name"] == "arbor-server")
    labels = server["spec"]["template"]["metadata"]["labels"]
    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    svc = services["arbor-server"]
    assert svc["spec"]["selector"].items() <= labels.items()
    ingress = of_kind("Ingress")[0]
    notes = ingress["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    backends = [p["backend"]["service"]["name"] for r in ingress["spec"]["rules"]
                for p in r["http"]["paths"]]
    assert backends and set(backends) <= set(services)


def test_kustomization_lists_every_manifest() -> None:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kust["resources"])
    present = {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present


# --- the container health probe ------------------------------------------------------------

@pytest.fixture
def healthz_server() -> Iterator[tuple[int, list[int]]]:
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = status[0] if self.path == "/healthz" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            """Keep the test output quiet."""

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], status
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_healthcheck_script_follows_healthz(healthz_server: tuple[int, list[int]],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("arbor_healthcheck",
                                                  DEPLOY / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    port, status = healthz_server
    monkeypatch.setenv("ARBOR_PORT", str(port))
    assert module.server() == 0
    status[0] = 503
    assert module.server() == 1


# --- nginx: no tokens in logs, no public /metrics ------------------------------------------

# Variables that would put a query string (share tokens, upload signatures) in a log line.
QUERY_VARIABLES = ("$request ", "$request\"", "$request'", "$request_uri", "$args",
                   "$query_string", "$arg_", "$http_referer", "$is_args")


def nginx_conf() -> str:
    return (DEPLOY / "nginx.conf").read_text()


def log_formats(conf: str) -> dict[str, str]:
    """``log_format name '...' '...';`` -> name: the joined format."""
    out = {}
    for m in re.finditer(r"log_format\s+(\S+)\s+((?:'[^']*'\s*)+);", conf):
        out[m.group(1)] = "".join(re.findall(r"'([^']*)'", m.group(2)))
    return out


def test_nginx_access_log_has_no_query_strings() -> None:
    conf = nginx_conf()
    formats = log_formats(conf)
    logs = re.findall(r"^\s*access_log\s+([^;]+);", conf, flags=re.M)
    assert logs, "no access_log: nginx would log the default `combined` format ($request)"
    for args in logs:
        parts = args.split()
        if parts[0] == "off":
            continue
        assert len(parts) >= 2, f"access_log {args}: the default format logs $request"
        fmt = formats.get(parts[1])
        assert fmt is not None, f"access_log uses undefined format {parts[1]!r}"
        leaked = [v for v in QUERY_VARIABLES if v in fmt + " "]
        assert not leaked, f"log format {parts[1]!r} logs {leaked}"
        assert "$uri" in fmt, "the log should still say which path was asked"


def test_nginx_refuses_metrics() -> None:
    conf = nginx_conf()
    block = re.search(r"location\s+(?:\^~|=)\s+/metrics\s*\{([^}]*)\}", conf)
    assert block, "no location for /metrics: it would be proxied to the servers"
    body = block.group(1)
    assert re.search(r"\bdeny\s+all;", body) or re.search(r"\breturn\s+4\d\d\b", body)
    assert "proxy_pass" not in body


def test_k8s_ingress_refuses_metrics() -> None:
    closed = [i for i in of_kind("Ingress")
              if any(p["path"] == "/metrics" for r in i["spec"]["rules"]
                     for p in r["http"]["paths"])]
    assert closed, "no Ingress path for /metrics: the catch-all `/` would serve it"
    for ingress in closed:
        notes = ingress["metadata"].get("annotations", {})
        ranges = {notes.get(f"nginx.ingress.kubernetes.io/{kind}-source-range")
                  for kind in ("allowlist", "whitelist")}
        assert ranges == {"127.0.0.1/32"}, ranges  # no client but the controller itself
    paths = {p["path"] for i in of_kind("Ingress") for r in i["spec"]["rules"]
             for p in r["http"]["paths"]}
    assert "/" in paths  # everything else still goes to the servers


@pytest.fixture
def nginx_in_front() -> Iterator[tuple[int, Path, list[str]]]:
    """deploy/nginx.conf, run for real in front of a small HTTP server standing for the
    Arbor servers (upstream names and the listen port replaced). Yields the port, the
    access log and the paths (with query) the upstream was asked for."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)
    if binary is None:
        pytest.skip("no nginx on this machine")
    seen: list[str] = []

    class Upstream(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            """Keep the test output quiet."""

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        access = root / "access.log"
        conf = re.sub(r"server server-\d+:8000", f"server 127.0.0.1:{upstream.server_port}",
                      nginx_conf())
        conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
        conf = conf.replace("/dev/stdout", str(access)).replace("/dev/stderr",
                                                                str(root / "error.log"))
        conf = conf.replace("worker_processes auto;", f"worker_processes 1;\npid {root}/pid;")
        (root / "nginx.conf").write_text(conf)
        proc = subprocess.Popen([binary, "-p", str(root), "-c", str(root / "nginx.conf"),
                                 "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.02)
            yield port, access, seen
        finally:
            proc.terminate()
            proc.wait(10)
            upstream.shutdown()
            upstream.server_close()


def test_nginx_as_shipped_logs_no_token_and_refuses_metrics(
        nginx_in_front: tuple[int, Path, list[str]]) -> None:
    """Through the real nginx: requests carrying tokens reach the servers, and the log
    has their paths without the tokens; /metrics, spelled several ways, never reaches
    them."""
    port, access, seen = nginx_in_front
    secret = "tok" + "S3cr3t" * 4
    base = f"http://127.0.0.1:{port}"
    asked = [f"/sync/RoomRoom1?token={secret}",
             f"/api/rooms/RoomRoom1/images/rooms/RoomRoom1/a.webp?token={secret}",
             f"/api/blobs/upload?key=k&sig={secret}"]
    for path in asked:
        with urllib.request.urlopen(base + path, timeout=5) as r:
            assert r.status == 200
    for path in ("/metrics", "/metrics/", "/%6detrics", "//metrics", "/metrics?x=1"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + path, timeout=5)
        assert refused.value.code == 403, path
    assert seen == asked, "the requests did not reach the upstream as sent"
    deadline = time.monotonic() + 5
    while access.read_text().count("\n") < len(asked) + 5:
        assert time.monotonic() < deadline, access.read_text()
        time.sleep(0.02)
    log = access.read_text()
    assert secret not in log, log
    assert "GET /sync/RoomRoom1 HTTP/1.1" in log and " 403 " in log
