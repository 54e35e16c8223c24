"""The fan-out's Redis connections pack commands with hiredis (in C): byte for byte what
redis-py's own packer sends, for every kind of argument the fan-out passes."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection

from sync.fanout import Fanout, PackedConnection

COMMANDS = [
    ("XREAD", "BLOCK", 2000, "COUNT", 1000, "STREAMS", b"p:room:a", b"p:room:b", b"0-0",
     b"1796223779513-3"),
    ("CLIENT UNBLOCK", 42),  # redis-py passes a two-word command as one string
    (b"CLIENT SETNAME", "pré-fanout"),
    ("XADD", b"p:room:a", "MINID", "~", "1796223779000-0", "*", b"o", b"proc", b"k", b"u",
     b"d", bytes(range(256)) * 40),  # a 10 KB update: past redis-py's buffer cut-off
    ("PEXPIRE", b"p:room:a", 240000),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[str(c[0]) for c in COMMANDS])
def test_hiredis_packing_sends_what_redis_py_would(args):
    ours = b"".join(PackedConnection().pack_command(*args))
    stock = b"".join(bytes(part) for part in Connection().pack_command(*args))
    assert ours == stock


async def test_the_fan_out_uses_it_for_plain_tcp_urls_only():
    f = Fanout.from_url("redis://127.0.0.1:6379/0", prefix="t:", process_id="p", retention=60)
    assert f.redis.connection_pool.connection_class is PackedConnection
    assert f._reader.connection_pool.connection_class is PackedConnection
    tls = Fanout.from_url("rediss://127.0.0.1:6380/0", prefix="t:", process_id="p", retention=60)
    assert tls.redis.connection_pool.connection_class is not PackedConnection
    for x in (f, tls):
        await x._reader.aclose()
        await x.redis.aclose()
