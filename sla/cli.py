"""Ops commands: `flask sla sweep`, `flask sla recompute`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from sla import recompute, sweep

sla_cli = AppGroup("sla", help="The SLA engine.")


@sla_cli.command("sweep")
def sweep_command():
    """Run one sweep now."""
    result = sweep.sweep()
    click.echo(
        f"checked {result.checked} requests, fired {result.fired or 'nothing'} "
        f"in {result.seconds * 1000:.1f} ms"
    )


@sla_cli.command("recompute")
@click.option("--reason", default="manual recompute", show_default=True)
def recompute_command(reason: str):
    """Recompute all open deadlines under the current calendar and targets."""
    shift = recompute.apply(reason)
    click.echo(
        f"moved {shift.moved} open deadlines; largest shift {shift.largest_days:+d} working days"
    )
