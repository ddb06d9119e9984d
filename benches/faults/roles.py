"""The facefix processes of one scenario: started from the built binary on 127.0.0.1 ports,
signalled and restarted by the faults, and stopped by their pids at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

# Every pid the suite starts is listed here until it is reaped, so that a run killed
# before its cleanup can be finished by the next one (see `reap_leftovers`).
PID_FILE = "pids"
# The environment marker of the suite's processes: their queue prefix starts with it.
RUN_MARKER = "faults-"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Role:
    name: str  # api1, worker2, sweeper1
    kind: str  # api, worker, sweeper
    port: int
    extra: list[str]
    generation: int = 0
    process: subprocess.Popen | None = None
    # Exits the suite did not cause (it sets `expected_exit` before each signal it sends).
    unexpected_exits: list[str] = field(default_factory=list)
    expected_exit: bool = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Stack:
    def __init__(self, binary: Path, env: dict[str, str], run_id: str, log_dir: Path, pid_dir: Path):
        self.binary = binary
        self.env = env
        self.run_id = run_id
        self.log_dir = log_dir
        self.pid_file = pid_dir / PID_FILE
        self.roles: list[Role] = []
        self.lock = threading.Lock()
        # Set by stop_all: a restart racing with the end of the run must not start anything.
        self.closed = False
        log_dir.mkdir(parents=True, exist_ok=True)

    def add(self, kind: str, count: int, extra: list[str]) -> None:
        for i in range(1, count + 1):
            self.roles.append(Role(f"{kind}{i}", kind, free_port(), list(extra)))

    def of_kind(self, kind: str) -> list[Role]:
        return [r for r in self.roles if r.kind == kind]

    def worker_id(self, role: Role) -> str:
        return f"{self.run_id}-{role.name}-g{role.generation}"

    def role_of_worker_id(self, worker_id: str | None) -> Role | None:
        for role in self.of_kind("worker"):
            if worker_id == self.worker_id(role):
                return role
        return None

    # ------------------------------------------------------------------ lifecycle

    def spawn(self, role: Role) -> None:
        with self.lock:
            if role.alive() or self.closed:
                return
            role.generation += 1
            role.expected_exit = False
            env = dict(self.env)
            if role.kind == "worker":
                env["FACEFIX_WORKER_ID"] = self.worker_id(role)
            log = open(self.log_dir / f"{role.name}.log", "ab")
            log.write(f"--- {time.strftime('%H:%M:%S')} start, generation {role.generation}\n".encode())
            log.flush()
            # An API's metrics listener gets a port of its own: two APIs run side by side,
            # and the default 127.0.0.1:9464 is one port for both.
            metrics = ["--metrics-listen", "127.0.0.1:0"] if role.kind == "api" else []
            role.process = subprocess.Popen(
                [str(self.binary), role.kind, "--listen", f"127.0.0.1:{role.port}", *metrics, *role.extra],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            )
            log.close()
            with open(self.pid_file, "a") as f:
                f.write(f"{role.process.pid}\n")

    def wait_healthy(self, role: Role, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not role.alive():
                if role.expected_exit:
                    # The suite itself stopped it again meanwhile (a fault that kills every
                    # new attempt): that fault restarts it once more.
                    return
                raise RuntimeError(f"{role.name} exited at start (log: {self.log_dir / role.name}.log)")
            try:
                if requests.get(f"{role.base}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{role.name} not healthy after {within:.0f} s")

    def start_all(self) -> None:
        for role in self.roles:
            self.spawn(role)
        for role in self.roles:
            self.wait_healthy(role)

    def restart(self, role: Role, wait: bool = True) -> None:
        self.spawn(role)
        if wait:
            self.wait_healthy(role)

    def send(self, role: Role, sig: signal.Signals) -> None:
        if role.alive():
            if sig in (signal.SIGKILL, signal.SIGTERM):
                role.expected_exit = True
            try:
                os.kill(role.pid, sig)
            except ProcessLookupError:
                pass  # it ended on its own meanwhile; note_exits tells

    def kill(self, role: Role) -> None:
        """SIGKILL, then reap (so a restart gets the port back)."""
        self.send(role, signal.SIGKILL)
        if role.process:
            role.process.wait(timeout=10)

    def terminate(self, role: Role, within: float) -> int | None:
        """SIGTERM and the exit status, or None when it did not exit within the time."""
        self.send(role, signal.SIGTERM)
        try:
            return role.process.wait(timeout=within) if role.process else None
        except subprocess.TimeoutExpired:
            return None

    def note_exits(self) -> None:
        """Records processes that ended without the suite asking."""
        for role in self.roles:
            if role.process and not role.expected_exit and role.process.poll() is not None:
                role.unexpected_exits.append(f"{role.name} exited with {role.process.returncode}")
                role.expected_exit = True

    def stop_all(self) -> None:
        """SIGCONT (a hung one would ignore SIGTERM), SIGTERM, and SIGKILL after 15 s."""
        with self.lock:
            self.closed = True
        self.note_exits()
        running = [r for r in self.roles if r.alive()]
        for role in running:
            self.send(role, signal.SIGCONT)
            self.send(role, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for role in running:
            try:
                role.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.send(role, signal.SIGKILL)
                role.process.wait(timeout=10)
        self.pid_file.unlink(missing_ok=True)


def reap_leftovers(pid_dir: Path, binary: Path) -> list[int]:
    """Kills the processes a previous run listed and did not stop (it was killed itself),
    when the pid still belongs to a facefix role of the suite."""
    pid_file = pid_dir / PID_FILE
    killed = []
    if not pid_file.exists():
        return killed
    for line in pid_file.read_text().split():
        pid = int(line)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = cmdline and cmdline[0] == str(binary).encode() and any(
            e.startswith(f"FACEFIX_QUEUE_PREFIX={RUN_MARKER}".encode()) for e in environ)
        if ours:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    pid_file.unlink()
    return killed
