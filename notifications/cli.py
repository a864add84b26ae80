"""Ops commands: `flask notifications relay`, `flask notifications redrive`."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from redis.exceptions import RedisError

notifications_cli = AppGroup("notifications", help="The notification outbox.")


@notifications_cli.command("relay")
@click.option(
    "--budget",
    default=300.0,
    show_default=True,
    help="Stop after this many seconds, even with rows still due.",
)
def relay_command(budget: float):
    """Deliver what is owed now, in this process (stale claims are settled first)."""
    from notifications import outbox, relay

    try:
        settled = relay.reconcile_stale()
    except (RedisError, OSError) as error:  # delivering what is due needs no receipts
        click.echo(f"stale claims left for later (receipts unreadable: {error})", err=True)
        settled = relay.RedriveCounts()
    counts = relay.deliver_due(budget_seconds=budget)
    click.echo(
        f"sent {counts.sent}, retrying {counts.retrying}, dead {counts.dead}, "
        f"handed back {counts.released} (of {counts.claimed} claimed); "
        f"stale claims: {settled.reconciled} reconciled as sent, {settled.requeued} requeued"
    )
    left = outbox.counts_by_status()
    click.echo("outbox now: " + ", ".join(f"{status} {n}" for status, n in left.items()))


@notifications_cli.command("redrive")
def redrive_command():
    """What the periodic re-drive does: settle stale claims, queue the relay if due."""
    from notifications import relay

    counts = relay.redrive()
    click.echo(
        f"reconciled {counts.reconciled}, requeued {counts.requeued}, dead "
        f"{counts.dead}, due {counts.due}, relay queued: {counts.kicked}"
    )
