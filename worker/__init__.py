"""Arbor's background workers (arq): tools, model providers, image processing."""

from __future__ import annotations
