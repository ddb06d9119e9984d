"""The table: one row per scenario, as text on stdout and as Markdown and JSON files."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from .verdict import Row

COLUMNS = ["scenario", "s", "accepted", "refused", "failed", "lost", "record lost", "stranded",
           "duplicated", "leftover", "max purge lag", "other", "result"]


def _counts(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"


def cells(row: Row) -> list[str]:
    lag = "-" if row.max_purge_lag is None else f"{row.max_purge_lag:.1f} s"
    other = len(row.violations) + len(row.result_missing)
    return [row.scenario, f"{row.seconds:.0f}", str(row.accepted), _counts(row.refused),
            _counts(row.failed), str(len(row.lost)), str(len(row.finished_unseen)), str(len(row.stranded)), str(len(row.duplicated)),
            str(len(row.leftover)), lag, str(other), "ok" if row.ok else "FAIL"]


def text_table(rows: list[Row]) -> str:
    table = [COLUMNS] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in table)


def markdown(rows: list[Row], command: str, started: str, seconds: float) -> str:
    lines = [f"# Fault suite: `{command}`", "",
             f"Started {started}, {seconds:.0f} s in all.", "",
             "| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS) - 1)) + "|---|"]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    lines += ["", "## Faults", ""]
    lines += [f"- `{r.scenario}`: {r.fault}" for r in rows]
    for r in rows:
        findings = r.violations + [f"result missing before expiry: {i}" for i in r.result_missing] + r.details
        if findings:
            lines += ["", f"## {r.scenario}", ""] + [f"- {f}" for f in findings]
    return "\n".join(lines) + "\n"


def write(out: Path, rows: list[Row], command: str, started: str, seconds: float) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "faults.md", out / "faults.json"
    md.write_text(markdown(rows, command, started, seconds))
    js.write_text(json.dumps({"command": command, "started": started, "seconds": round(seconds, 1),
                              "ok": all(r.ok for r in rows),
                              "rows": [asdict(r) | {"ok": r.ok} for r in rows]}, indent=2) + "\n")
    return [md, js]
