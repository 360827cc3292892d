"""The launcher's stop path: what it decides before it calls into Ray."""

from __future__ import annotations

import socket

from actors.launcher import ray_listening


def test_ray_listening_while_its_gcs_port_accepts_connections() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        host, port = server.getsockname()
        assert ray_listening(f"{host}:{port}")


def test_ray_not_listening_once_its_gcs_port_closed() -> None:
    """A SIGTERM to riskd's whole process group stopped the local Ray too: no stop calls."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        host, port = server.getsockname()
    assert not ray_listening(f"{host}:{port}")
