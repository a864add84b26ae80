"""Run pip-audit on the virtualenv and say plainly what it could and could not check.

Fails (exit 1) on any known vulnerability, or when pip-audit itself fails. A package
pip-audit had to skip is not a pass: each is counted and the reasons are printed, so a
run that audited nothing says so instead of "No known vulnerabilities found".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "pip-audit.json"
        command = [
            str(PIP_AUDIT),
            "--skip-editable",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--output",
            str(report_path),
        ]
        print("$", " ".join(command), flush=True)
        finished = subprocess.run(  # noqa: S603 (our own command line)
            command, check=False, capture_output=True, text=True
        )
        # Its own verdict ("No known vulnerabilities found") counts skipped packages as clean.
        for line in (finished.stdout + finished.stderr).splitlines():
            print(f"  pip-audit said: {line}")
        if not report_path.exists():
            print(f"pip-audit failed (exit code {finished.returncode}) and wrote no report.")
            return finished.returncode or 1
        report = json.loads(report_path.read_text())

    # The project itself (installed editable) is ours, not a published release.
    dependencies = [
        d for d in report.get("dependencies", []) if "editable" not in d.get("skip_reason", "")
    ]
    skipped = [d for d in dependencies if "skip_reason" in d]
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]

    print(
        f"pip-audit: {len(dependencies)} packages, {len(audited)} audited, "
        f"{len(skipped)} NOT audited, {len(vulnerable)} with known vulnerabilities."
    )
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
            print(
                f"  VULNERABLE {dependency['name']} {dependency['version']}: "
                f"{vuln['id']} (fixed in: {fixed})"
            )
    if skipped:
        by_reason: dict[str, list[str]] = defaultdict(list)
        for dependency in skipped:
            reason = dependency["skip_reason"].split(":", 1)[0]
            by_reason[reason].append(dependency["name"])
        print("#" * 78)
        print(f"WARNING: {len(skipped)} of {len(dependencies)} packages could NOT be audited;")
        print("no vulnerability data was checked for them:")
        for reason, names in sorted(by_reason.items()):
            print(f"  {len(names)} x {reason}:")
            print("    " + ", ".join(sorted(names)))
        print("#" * 78)
    if vulnerable or finished.returncode not in (0, 1):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
