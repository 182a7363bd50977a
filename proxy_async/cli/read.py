"""``proxy-async sessions list``, ``interactions list`` and ``interactions fetch``."""

from __future__ import annotations

import click

from ._command import Group
from ._options import CONTEXT_SETTINGS


@click.group("sessions", cls=Group, context_settings=CONTEXT_SETTINGS)
def sessions_group() -> None:
    """Look at a Service's Sessions."""


@click.group("interactions", cls=Group, context_settings=CONTEXT_SETTINGS)
def interactions_group() -> None:
    """Look at a Session's Interactions."""
