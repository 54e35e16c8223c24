"""Arbor's edge: the Starlette app, websocket endpoint, JSON API, and the `arbor` command."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
