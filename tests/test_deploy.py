"""The production process layout shipped as files (deploy/systemd/, Procfile) runs what the
README says: gunicorn, self-healing workers (AppWorker) and the self-healing scheduler
(portal.cron), each restarted by its supervisor and bounded in memory and tasks."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from portal import cron

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((UNITS / name).read_text().replace("\\\n", " "))
    return parser


@pytest.mark.parametrize(
    "name, runs",
    [
        ("moldir-web.service", "gunicorn"),
        ("moldir-worker@.service", "--worker-class portal.worker.AppWorker"),
        ("moldir-cron.service", "-m portal.cron"),
    ],
)
def test_every_unit_is_restarted_and_bounded(name, runs):
    service = unit(name)["Service"]

    assert runs in service["ExecStart"]
    assert service["Restart"] == "always" and float(service["RestartSec"]) > 0
    assert service["MemoryMax"] and service["TasksMax"]
    # Never "failed for good" after a burst of restarts during an outage.
    assert unit(name)["Unit"]["StartLimitIntervalSec"] == "0"


def test_the_target_starts_the_portal_the_scheduler_and_workers():
    wants = unit("moldir.target")["Unit"]["Wants"].split()

    assert "moldir-web.service" in wants and "moldir-cron.service" in wants
    assert any(w.startswith("moldir-worker@") for w in wants)


def test_the_procfile_runs_the_same_processes():
    lines = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )

    assert set(lines) == {"web", "worker", "cron"}
    assert "gunicorn" in lines["web"] and "db upgrade" in lines["web"]
    assert "portal.worker.AppWorker" in lines["worker"] and "--with-scheduler" in lines["worker"]
    assert "portal.cron" in lines["cron"]


def test_the_scheduler_refuses_to_start_without_redis(monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)

    with pytest.raises(SystemExit):
        cron.main([])

    assert "REDIS_URL" in capsys.readouterr().err
