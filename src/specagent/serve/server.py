"""Running the app on uvicorn: one place for the settings the CLI, the tests and the load test
share (the WebSocket implementation, the frame size limit, no stray logging of every frame)."""

from __future__ import annotations

import socket

import uvicorn

from .app import Hub, check_bind, create_app

__all__ = ["bind_socket", "run", "uvicorn_server"]


def uvicorn_server(hub: Hub, *, host: str = "127.0.0.1", port: int = 8765) -> uvicorn.Server:
    """A uvicorn server for ``hub`` (start it with ``await server.serve(...)``)."""
    check_bind(host, hub.config.token)
    config = uvicorn.Config(
        create_app(hub),
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=hub.config.max_message_bytes,
        ws_per_message_deflate=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (port 0: any free port). Clients can connect as soon as it exists:
    the kernel queues them until the server accepts, so nobody waits for a readiness signal."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def run(hub: Hub, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = uvicorn_server(hub, host=host, port=port)
    server.run()
