"""A throw-away single-node SLURM cluster for tests (Debian ``slurm-wlm`` + ``munge``).

Everything lives in one directory: ``slurm.conf``, ``gres.conf``, ``cgroup.conf``,
state/spool dirs, daemon logs, a job-completion log and ``bin/`` shims of the client
commands; a private munge key and socket live in ``/tmp/leptonid-munge-*``.
The daemons (``munged`` as user munge, ``slurmctld``, ``slurmd``) run in the
foreground as child processes of the test, each in its own session, and are stopped
by process id (their process group) on exit. Nothing system-wide is touched: no
systemd, no ``/etc/slurm``, no default munge socket.

The node ``localhost`` (127.0.0.1) has one fake GPU as a GRES (``File=/dev/null``) and
two partitions on it: ``cpu`` (default) and ``gpu`` - the names the placeholders in
``profiles/slurm/config.yaml`` use, so that profile runs here unedited.

Status polling: there is no accounting (no slurmdbd), so ``sacct`` fails. Use the
``squeue`` status command of the Snakemake SLURM executor
(``--slurm-status-command squeue``); ``MinJobAge`` is set high so that ``squeue`` and
``scontrol show job`` still list finished jobs (the executor falls back to ``sacct``
when MinJobAge < 3 x ``--slurm-init-seconds-before-status-checks``).

Usage::

    with slurm_cluster(tmp_path / "slurm") as cluster:
        env = cluster.env            # os.environ + SLURM_CONF
        job = cluster.sbatch(["--gpus=1", "--wrap", "echo $CUDA_VISIBLE_DEVICES"])
        cluster.wait_for_jobs([job])
        cluster.job_info(job)["TresPerJob"]   # 'gres:gpu:1'

Command line self-check: ``python tests/cluster/slurm.py [--keep-dir DIR]``.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

# client commands shimmed in <root>/bin (see _write_client_shims)
CLIENT_PROGRAMS = (
    "sbatch",
    "srun",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
    "sacct",
    "sacctmgr",
    "sshare",
    "salloc",
)
REQUIRED_PROGRAMS = (
    "munged",
    "mungekey",
    "munge",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
    "srun",
)
CPU_PARTITION = "cpu"
GPU_PARTITION = "gpu"
NODE_NAME = "localhost"
COMMAND_TIMEOUT_S = 30.0
FINISHED_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
        "PREEMPTED",
    }
)


class SlurmUnavailable(RuntimeError):
    """The machine cannot host the test cluster (not root, packages missing)."""


class SlurmStartupError(RuntimeError):
    """A daemon did not come up; the message includes the tail of its log."""


def unavailable_reason() -> str | None:
    """Return why a test cluster cannot be started here, or None if it can."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "SLURM test cluster needs Linux"
    if os.geteuid() != 0:
        return "SLURM test cluster needs root (slurmd runs jobs as root here)"
    missing = [p for p in REQUIRED_PROGRAMS if shutil.which(p) is None]
    if missing:
        return (
            "SLURM packages not installed (missing " + ", ".join(missing) + "); "
            "run .ci/install-slurm.sh as root"
        )
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "user 'munge' does not exist (munge package incomplete)"
    return None


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports on 127.0.0.1 that are free right now."""
    socks, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _machine_memory_mb() -> int:
    """Total memory of this machine in MB (from /proc/meminfo)."""
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("MemTotal missing from /proc/meminfo")


@dataclass(frozen=True)
class ClusterSpec:
    """What the generated ``slurm.conf`` declares.

    ``cpus``/``real_memory_mb`` default to the machine's; declaring more is allowed
    (``SlurmdParameters=config_overrides``; nothing is enforced without cgroups), which
    lets a test submit a profile's real per-rule requests on a small machine.
    """

    cluster_name: str = "leptonidtest"
    cpus: int | None = None
    real_memory_mb: int | None = None
    gpus: int = 1
    def_mem_per_cpu_mb: int = 500
    min_job_age_s: int = 3600
    max_time: str = "UNLIMITED"

    def resolved_cpus(self) -> int:
        return self.cpus or os.cpu_count() or 1

    def resolved_memory_mb(self) -> int:
        return self.real_memory_mb or int(_machine_memory_mb() * 0.9)


def render_slurm_conf(
    spec: ClusterSpec, root: Path, munge_dir: Path, ctld_port: int, slurmd_port: int
) -> str:
    """Return the text of slurm.conf for a single node on 127.0.0.1 under ``root``."""
    cpus, mem = spec.resolved_cpus(), spec.resolved_memory_mb()
    gres = f" Gres=gpu:{spec.gpus}" if spec.gpus else ""
    lines = [
        f"ClusterName={spec.cluster_name}",
        f"SlurmctldHost={NODE_NAME}(127.0.0.1)",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge_dir / 'munge.socket'}",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool' / 'slurmd'}",
        f"SlurmctldPidFile={root / 'run' / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'run' / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "SchedulerType=sched/backfill",
        "GresTypes=gpu",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={root / 'log' / 'jobcomp.txt'}",
        f"DefMemPerCPU={spec.def_mem_per_cpu_mb}",
        f"MinJobAge={spec.min_job_age_s}",
        "ReturnToService=2",
        "SlurmdParameters=config_overrides",
        "MpiDefault=none",
        "MailProg=/bin/true",
        "SlurmdTimeout=60",
        "InactiveLimit=0",
        "KillWait=5",
        "Waittime=0",
        f"NodeName={NODE_NAME} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem}{gres} "
        "State=UNKNOWN",
        f"PartitionName={CPU_PARTITION} Nodes={NODE_NAME} Default=YES "
        f"MaxTime={spec.max_time} State=UP",
        f"PartitionName={GPU_PARTITION} Nodes={NODE_NAME} Default=NO "
        f"MaxTime={spec.max_time} State=UP",
    ]
    return "\n".join(lines) + "\n"


def render_gres_conf(spec: ClusterSpec) -> str:
    """gres.conf for the fake GPU(s); ``File=`` is required or 22.05 marks the node INVAL."""
    if not spec.gpus:
        return ""
    return f"NodeName={NODE_NAME} Name=gpu Count={spec.gpus} File=/dev/null\n"


def render_cgroup_conf() -> str:
    """cgroup.conf that asks for nothing (proctrack/linuxproc + task/none use no cgroups)."""
    return "CgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\nConstrainDevices=no\n"


@dataclass
class SlurmCluster:
    """A running test cluster: its directory, environment and query helpers."""

    root: Path
    spec: ClusterSpec
    conf: Path
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` with ``SLURM_CONF`` set and ``<root>/bin`` first in PATH.

        ``<root>/bin`` holds shims of the client commands that set ``SLURM_CONF``
        themselves: the Snakemake jobstep executor strips ``SLURM_*`` variables
        before it calls ``srun`` inside a job, so without them ``srun`` would look
        for /etc/slurm/slurm.conf.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def controller_log(self) -> Path:
        return self.log_dir / "slurmctld.log"

    @property
    def jobcomp_log(self) -> Path:
        """One line per finished job (JobId=... Partition=... JobState=... ExitCode=...)."""
        return self.log_dir / "jobcomp.txt"

    def pids(self) -> dict[str, int]:
        """Process ids of the daemons started by this cluster."""
        return {name: proc.pid for name, proc in self._procs.items()}

    def run(
        self, args: Sequence[str], *, timeout: float = COMMAND_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster and return the result."""
        return subprocess.run(
            list(args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def sbatch(self, args: Sequence[str]) -> str:
        """Submit with ``sbatch --parsable ARGS`` and return the job id."""
        out = self.run(["sbatch", "--parsable", *args]).stdout.strip()
        return out.split(";")[0]

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o`` as a dict (works until MinJobAge after the end)."""
        out = self.run(["scontrol", "show", "job", "-o", str(job_id)]).stdout
        return _parse_scontrol_line(out.strip())

    def all_jobs(self) -> list[dict[str, str]]:
        """All jobs the controller still knows (pending, running, and finished ones)."""
        out = self.run(["scontrol", "show", "job", "-o"], check=False).stdout
        return [
            _parse_scontrol_line(line)
            for line in out.splitlines()
            if line.startswith("JobId=")
        ]

    def completed_jobs(self) -> list[dict[str, str]]:
        """Finished jobs from the job-completion log (survives MinJobAge purges)."""
        if not self.jobcomp_log.exists():
            return []
        text = self.jobcomp_log.read_text(encoding="utf-8", errors="replace")
        return [_parse_scontrol_line(line) for line in text.splitlines() if line.strip()]

    def wait_for_jobs(
        self, job_ids: Sequence[str], *, timeout: float = 60.0
    ) -> dict[str, str]:
        """Wait until the jobs finished; return ``{job_id: JobState}``."""
        deadline = time.monotonic() + timeout
        while True:
            states = {j: self.job_info(j).get("JobState", "") for j in job_ids}
            if all(s in FINISHED_STATES for s in states.values()):
                return states
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs not finished after {timeout:.0f}s: {states}")
            time.sleep(0.5)

    def cancel_all(self, *, timeout: float = 30.0) -> None:
        """Cancel every job of this cluster and wait until none is running."""
        self.run(["scancel", "--full", "--state=PENDING"], check=False)
        self.run(["scancel", "--full", "--state=RUNNING"], check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.run(
                ["squeue", "-h", "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING", "-o", "%i"],
                check=False,
            ).stdout
            if not out.strip():
                return
            time.sleep(0.5)


def _parse_scontrol_line(line: str) -> dict[str, str]:
    """Parse ``Key=Value Key=Value`` (one-line scontrol/jobcomp output) into a dict."""
    info: dict[str, str] = {}
    key = None
    for token in line.split():
        if "=" in token:
            key, _, value = token.partition("=")
            info[key] = value
        elif key is not None:  # a value with spaces (e.g. Command=...)
            info[key] += " " + token
    return info


def _tail(path: Path, n: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-n:])


def _wait_until(
    check, *, timeout: float, what: str, logs: Sequence[Path], proc: subprocess.Popen | None = None
) -> None:
    """Poll ``check()`` every 0.2 s until it is true, else raise with the logs' tails.

    Gives up at once if ``proc`` (the daemon being waited for) has exited.
    """
    deadline = time.monotonic() + timeout
    problem = f"not ready after {timeout:.0f}s"
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            problem = f"exited with status {proc.returncode}"
            break
        time.sleep(0.2)
    tails = "\n".join(f"--- {p} ---\n{_tail(p)}" for p in logs)
    raise SlurmStartupError(f"{what} {problem}\n{tails}")


def _stop_process(proc: subprocess.Popen, *, grace_s: float = 10.0) -> None:
    """SIGTERM the process group led by ``proc`` (by its pid), then SIGKILL if needed."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    # the leader may be gone while children it forked (e.g. slurmstepd) remain
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _write_client_shims(root: Path, conf: Path) -> None:
    """Write ``<root>/bin/<cmd>`` wrappers that run the real client with our SLURM_CONF."""
    for name in CLIENT_PROGRAMS:
        real = shutil.which(name)
        if real is None:
            continue
        shim = root / "bin" / name
        shim.write_text(f'#!/bin/sh\nSLURM_CONF="{conf}" exec "{real}" "$@"\n')
        shim.chmod(0o755)


def _prepare_dirs(root: Path) -> Path:
    """Create the cluster's directories; return the munge directory.

    The munge directory (key, socket, seed, log) is a fresh ``/tmp/leptonid-munge-*``
    owned by user munge: munged must reach it, and ``root`` may sit below
    directories only root can enter (pytest's tmp_path is 0700); the socket path
    also stays short (sockets are limited to 107 bytes).
    """
    for sub in ("state", "spool/slurmd", "run", "log", "bin"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    munge_dir = Path(tempfile.mkdtemp(prefix="leptonid-munge-", dir="/tmp"))
    munge = pwd.getpwnam("munge")
    os.chown(munge_dir, munge.pw_uid, munge.pw_gid)
    munge_dir.chmod(0o700)
    return munge_dir


def _start(name: str, args: list[str], root: Path, **kwargs) -> subprocess.Popen:
    """Start a foreground daemon in its own session, output to log/<name>.out."""
    out = open(root / "log" / f"{name}.out", "wb")  # noqa: SIM115 - closed by the OS at exit
    try:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )
    finally:
        out.close()


def _start_munged(root: Path, munge_dir: Path) -> subprocess.Popen:
    """Create a private munge key and start munged (as user munge) on a private socket."""
    key = munge_dir / "munge.key"
    if not key.exists():
        subprocess.run(
            ["mungekey", "--create", f"--keyfile={key}"],
            check=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
        )
    munge = pwd.getpwnam("munge")
    os.chown(key, munge.pw_uid, munge.pw_gid)
    key.chmod(0o600)
    args = [
        "munged",
        "--foreground",
        "--force",
        f"--socket={munge_dir / 'munge.socket'}",
        f"--key-file={key}",
        f"--pid-file={munge_dir / 'munged.pid'}",
        f"--log-file={munge_dir / 'munged.log'}",
        f"--seed-file={munge_dir / 'munged.seed'}",
    ]
    return _start(
        "munged",
        args,
        root,
        user=munge.pw_uid,
        group=grp.getgrgid(munge.pw_gid).gr_gid,
        extra_groups=[],
        cwd=str(munge_dir),
    )


@contextlib.contextmanager
def slurm_cluster(
    root: Path | None = None,
    spec: ClusterSpec = ClusterSpec(),
    *,
    startup_timeout: float = 60.0,
) -> Iterator[SlurmCluster]:
    """Bring up munged + slurmctld + slurmd under ``root`` and yield the cluster.

    Raises :class:`SlurmUnavailable` when this machine cannot host it and
    :class:`SlurmStartupError` when a daemon does not come up within
    ``startup_timeout``. On exit, jobs are cancelled and the daemons are stopped
    by process id; ``root`` is kept (logs) unless it was created here.
    """
    reason = unavailable_reason()
    if reason:
        raise SlurmUnavailable(reason)
    own_root = root is None
    root = Path(tempfile.mkdtemp(prefix="slurm-")) if own_root else Path(root)
    root = root.resolve()
    munge_dir = _prepare_dirs(root)
    ctld_port, slurmd_port = _free_ports(2)
    conf = root / "slurm.conf"
    conf.write_text(render_slurm_conf(spec, root, munge_dir, ctld_port, slurmd_port))
    (root / "gres.conf").write_text(render_gres_conf(spec))
    (root / "cgroup.conf").write_text(render_cgroup_conf())
    _write_client_shims(root, conf)
    cluster = SlurmCluster(root=root, spec=spec, conf=conf)
    procs = cluster._procs
    env = cluster.env
    socket_path = munge_dir / "munge.socket"
    try:
        procs["munged"] = _start_munged(root, munge_dir)
        _wait_until(
            lambda: socket_path.exists() and _munge_works(socket_path),
            timeout=startup_timeout,
            what="munged",
            logs=[munge_dir / "munged.log", root / "log" / "munged.out"],
            proc=procs["munged"],
        )
        procs["slurmctld"] = _start(
            "slurmctld", ["slurmctld", "-D", "-c", "-i", "-f", str(conf)], root, env=env
        )
        _wait_until(
            lambda: _ok(cluster, ["scontrol", "ping"], "UP"),
            timeout=startup_timeout,
            what="slurmctld",
            logs=[cluster.controller_log, root / "log" / "slurmctld.out"],
            proc=procs["slurmctld"],
        )
        procs["slurmd"] = _start(
            "slurmd", ["slurmd", "-D", "-N", NODE_NAME, "-f", str(conf)], root, env=env
        )
        _wait_until(
            lambda: _node_idle(cluster),
            timeout=startup_timeout,
            what="node localhost (idle in sinfo)",
            logs=[root / "log" / "slurmd.log", root / "log" / "slurmd.out", cluster.controller_log],
            proc=procs["slurmd"],
        )
        yield cluster
    finally:
        if "slurmctld" in procs and procs["slurmctld"].poll() is None:
            with contextlib.suppress(Exception):
                cluster.cancel_all(timeout=20)
        for name in ("slurmd", "slurmctld", "munged"):
            if name in procs:
                _stop_process(procs[name])
        shutil.rmtree(munge_dir, ignore_errors=True)
        if own_root:
            shutil.rmtree(root, ignore_errors=True)


def _munge_works(socket_path: Path) -> bool:
    try:
        cred = subprocess.run(
            ["munge", "-n", f"--socket={socket_path}"],
            capture_output=True,
            timeout=5,
            check=True,
        ).stdout
        subprocess.run(
            ["unmunge", f"--socket={socket_path}"],
            input=cred,
            capture_output=True,
            timeout=5,
            check=True,
        )
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def _ok(cluster: SlurmCluster, args: list[str], needle: str) -> bool:
    try:
        res = cluster.run(args, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return False
    return res.returncode == 0 and needle in res.stdout


def _node_idle(cluster: SlurmCluster) -> bool:
    try:
        res = cluster.run(["sinfo", "-h", "-N", "-o", "%N %t"], timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return False
    states = [line.split() for line in res.stdout.splitlines() if line.strip()]
    return bool(states) and all(s[1] == "idle" for s in states if s[0] == NODE_NAME)


def self_check(cluster: SlurmCluster, *, timeout: float = 60.0) -> dict[str, str]:
    """Run ``hostname`` and a ``--gpus=1`` job; return their outputs (raises on failure)."""
    out_dir = cluster.root / "selfcheck"
    out_dir.mkdir(exist_ok=True)
    cpu_job = cluster.sbatch(
        ["-o", str(out_dir / "hostname.out"), "--wrap", "hostname"]
    )
    gpu_job = cluster.sbatch(
        [
            "-p",
            GPU_PARTITION,
            "--gpus=1",
            "-o",
            str(out_dir / "gpu.out"),
            "--wrap",
            'echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"',
        ]
    )
    states = cluster.wait_for_jobs([cpu_job, gpu_job], timeout=timeout)
    if set(states.values()) != {"COMPLETED"}:
        raise RuntimeError(f"self-check jobs did not complete: {states}")
    return {
        "hostname": (out_dir / "hostname.out").read_text().strip(),
        "gpu": (out_dir / "gpu.out").read_text().strip(),
        "gpu_tres": cluster.job_info(gpu_job).get("TresPerJob", ""),
        "cpu_tres": cluster.job_info(cpu_job).get("TresPerJob", ""),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Bring a cluster up, run the self-check, print timings, tear it down."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep-dir", type=Path, help="cluster directory to keep")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to keep it up")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 2
    t0 = time.monotonic()
    with slurm_cluster(args.keep_dir) as cluster:
        t_up = time.monotonic() - t0
        result = self_check(cluster)
        print(f"cluster up in {t_up:.1f}s at {cluster.root} (SLURM_CONF={cluster.conf})")
        print(f"daemons: {cluster.pids()}")
        for key, value in result.items():
            print(f"{key}: {value}")
        if args.hold:
            time.sleep(args.hold)
    print(f"total {time.monotonic() - t0:.1f}s; daemons stopped")
    ok = result["gpu"] == "CUDA_VISIBLE_DEVICES=0" and "gpu" in result["gpu_tres"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
