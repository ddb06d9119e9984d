"""What the bench asks of facefix: which restorers are installed, and one
`facefix restore` run with its META.json."""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

# Settings of the caller's that would change what a run loads: the bench names the
# restorer and the models directory on the command line and loads nothing else.
_DROPPED_ENV = ("FACEFIX_RESTORER", "FACEFIX_RESTORERS", "FACEFIX_MODELS_DIR")


class RestoreFailed(RuntimeError):
    """`facefix restore` exited non-zero or wrote no metadata."""


def installed_restorers(models_dir: Path) -> list[str]:
    """The manifest's listed restorers (role "restorer", not hidden) whose file is in the
    models directory, in manifest order. Hidden entries are benchmark-only models that
    restore nothing (a synthetic cost model); a restorer added to the manifest later is
    picked up here with no change to the bench."""
    manifest = tomllib.loads((models_dir / "manifest.toml").read_text())
    return [
        m["name"]
        for m in manifest.get("model", [])
        if m.get("role") == "restorer" and not m.get("hidden", False) and (models_dir / m["file"]).is_file()
    ]


@dataclass(frozen=True)
class Run:
    meta: dict
    wall_ms: float

    @property
    def face_boxes(self) -> list[list[float]]:
        return [f["box"] for f in self.meta.get("faces", [])]

    @property
    def restore_stage_ms(self) -> float:
        return float(self.meta["timings_ms"]["restore"])


def restore(binary: Path, models_dir: Path, source: Path, output: Path, upscale: int,
            restorer: str, cwd: Path) -> Run:
    """One `facefix restore`; the wall time covers the whole process (start, model load,
    detection, restore, paste, encode), as a user running the command would wait."""
    meta_path = output.with_suffix(".json")
    meta_path.unlink(missing_ok=True)
    command = [str(binary), "restore", str(source), str(output), "--upscale", str(upscale),
               "--models-dir", str(models_dir), "--json", str(meta_path), "--restorer", restorer]
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["FACEFIX_LOG"] = "error"
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall_ms = (time.perf_counter() - started) * 1000.0
    if done.returncode != 0 or not meta_path.is_file():
        raise RestoreFailed(
            f"{' '.join(command)}\nexit status {done.returncode}\n{done.stderr.strip() or done.stdout.strip()}"
        )
    return Run(json.loads(meta_path.read_text()), wall_ms)
