"""The curate stage on real clusters started here, on 127.0.0.1 only: a Ray cluster (`ray start
--head`) and a one-node Slurm cluster (munged, slurmctld, slurmd), each compared with a local run.
Both are stopped by pid (`ray stop` would stop every Ray process on the machine)."""

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alchemist.curate import verdicts
from alchemist.curate.executors import execute
from alchemist.curate.stage import curate_shards
from alchemist.recipe import CurateSpec
from alchemist.schema import Sample, rows_to_table
from alchemist.testsets import load_benchmark
from tests.helpers import ROOT

# datatrove's Ray executor still passes placement_group= to Ray
pytestmark = pytest.mark.filterwarnings("ignore:placement_group:DeprecationWarning")

# Every Ray listener on 127.0.0.1 (by default Ray binds the external interface, and a driver
# rewrites 127.0.0.1:PORT to it), no usage stats. Ray reads these when it is imported: set them
# at collection, before any test imports it.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
os.environ.update(RAY_ENV)


# The cluster tests need what only CI installs (scripts/ci_clusters.sh): without it they skip,
# before any fixture runs, and say why. find_spec does not import Ray (importing it reads RAY_ENV).
RAY_MISSING = (None if importlib.util.find_spec("ray") is not None and (Path(sys.executable).parent / "ray").exists()
               else "Ray is not installed: pip install 'alchemist[ray]' (scripts/ci_clusters.sh does)")
needs_ray = pytest.mark.skipif(RAY_MISSING is not None, reason=RAY_MISSING or "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM a process a fixture started (it stops its own children), then SIGKILL whatever is
    left of its process group (it was started in a session of its own: the group is its pid)."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# ---- the data: clean code, near and exact copies, contamination, junk; >1024 rows, so 2 tasks

def to_sample(record, i):
    return Sample(source=f"s{i % 2}", messages=[{"role": "user", "content": record["instruction"]},
                                                {"role": "assistant", "content": record["output"]}],
                  language="python", meta={"where": f"x:{i}"})


@pytest.fixture(scope="module")
def shards(clean_records, tmp_path_factory):
    records = [dict(r) for r in clean_records]
    records += [{**r, "output": r["output"].replace("\n", "\n    # see above\n", 1)} for r in clean_records[:300]]
    records += [dict(r) for r in clean_records[:320]]
    records += [{"instruction": f"Finish this:\n{p.prompt}", "output": f"```python\n{p.prompt}{p.solution}\n```"}
                for p in load_benchmark("humaneval")[:20]]
    records += [{"instruction": "Write code that prints hello.", "output": junk} for junk in ("", "ok", 'print "py2"')]
    assert len(records) > 1024
    tmp = tmp_path_factory.mktemp("shards")
    rows = [to_sample(r, i).to_row() for i, r in enumerate(records)]
    half = len(rows) // 2
    paths = [tmp / "00000.parquet", tmp / "00001.parquet"]
    pq.write_table(rows_to_table(rows[:half]), paths[0])
    pq.write_table(rows_to_table(rows[half:]), paths[1])
    return paths


def spec_for(**executor) -> CurateSpec:
    # n-gram decontamination: the structure and embedding signals run on the local executor only
    return CurateSpec.model_validate({"decontaminate": {"benchmarks": ["humaneval"], "structure": False, "embedding": False},
                                      "executor": {"workers": 2, **executor}})


def use_executors(monkeypatch) -> None:
    """verdicts.py runs its steps through executors.execute (until it calls it itself)."""
    if getattr(verdicts, "execute", None) is not execute:
        monkeypatch.setattr(verdicts, "_execute", lambda p, t, w, d, s: execute(p, t, w, d, s, d.name), raising=False)


def run_curate(spec: CurateSpec, shards, root: Path) -> dict:
    out, work = root / "out", root / "work"
    out.mkdir(parents=True, exist_ok=True)
    counts = curate_shards(spec, shards, load_benchmark("humaneval"), [], out, work, seed=0)
    return outputs(out, counts)


def outputs(out: Path, counts: dict) -> dict:
    kept = pq.read_table(out / "samples.parquet").column("id").to_pylist()
    rejected = pq.read_table(out / "rejected.parquet", columns=["id", "reason", "detail"]).to_pylist()
    stats = json.loads((out / "stats.json").read_text())
    return {"kept": kept, "rejected": rejected, "stats": stats, "counts": counts}


@pytest.fixture(scope="module")
def local_run(shards, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        use_executors(mp)
        result = run_curate(spec_for(), shards, tmp_path_factory.mktemp("local"))
    # the data exercises every kind of verdict, over two tasks
    assert result["counts"]["kept"] > 300 and result["counts"]["contaminated"] == 20
    reasons = {r["reason"] for r in result["rejected"]}
    assert {"exact_duplicate", "near_duplicate", "contaminated"} <= reasons
    return result


@pytest.mark.slow
def test_local_executor_runs_two_tasks(local_run):
    assert local_run["stats"]["workers"] == 2


def test_executor_keys_belong_to_their_type():
    from pydantic import ValidationError

    from alchemist.curate.spec import ExecutorSpec

    with pytest.raises(ValidationError, match="partition does not apply to executor type ray: set type: slurm"):
        ExecutorSpec.model_validate({"type": "ray", "partition": "cpu"})
    with pytest.raises(ValidationError, match="address does not apply to executor type local: set type: ray"):
        ExecutorSpec.model_validate({"address": "ray://head:10001"})
    with pytest.raises(ValidationError, match="type slurm needs partition"):
        ExecutorSpec.model_validate({"type": "slurm"})
    # a resolved recipe spells out every default, of every type: it loads back
    for spec in (ExecutorSpec(), ExecutorSpec(type="ray", address="local"), ExecutorSpec(type="slurm", partition="cpu")):
        assert ExecutorSpec.model_validate(spec.model_dump()) == spec


@needs_ray
def test_ray_needs_a_cluster_it_can_reach(tmp_path, monkeypatch):
    """An address with no cluster behind it is one UserError that says how to start one."""
    from alchemist.errors import UserError

    spec = spec_for(type="ray", address=f"127.0.0.1:{free_port()}")
    with pytest.raises(UserError, match="ray start --head"):
        execute([], 1, 1, tmp_path / "step", spec, "step")


# ---- Ray

@pytest.fixture(scope="module")
def ray_cluster():
    if RAY_MISSING:
        pytest.skip(RAY_MISSING)
    ray_bin = Path(sys.executable).parent / "ray"
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, **RAY_ENV}
    cmd = [str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
           f"--temp-dir={temp}", f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
           "--disable-usage-stats", "--block"]  # --block: it stays our child, and stops its daemons on SIGTERM
    log = open(Path(temp) / "start.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while "Ray runtime started" not in (Path(temp) / "start.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start failed:\n{(Path(temp) / 'start.log').read_text()[-3000:]}")
            time.sleep(0.2)
        from ray._private import ray_constants

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)  # in case ray was imported before RAY_ENV was set
            mp.setenv("RAY_ADDRESS", address)
            yield {"address": address, "pid": proc.pid, "env": {**env, "RAY_ADDRESS": address}}
    finally:
        stop(proc, timeout=30)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def listeners_of(pids: set[int]) -> list[str]:
    """Local addresses the given processes listen on (TCP)."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    return [line.split()[3] for line in out.splitlines() if any(f"pid={p}," in line for p in pids)]


def tree(pid: int) -> set[int]:
    """pid and its descendants."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    todo, seen = [pid], set()
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo += children.get(p, [])
    return seen


@needs_ray
@pytest.mark.slow
def test_ray_matches_local(shards, local_run, ray_cluster, tmp_path, monkeypatch):
    use_executors(monkeypatch)
    spec = spec_for(type="ray", address=ray_cluster["address"], mem_per_cpu_gb=0.5)
    result = run_curate(spec, shards, tmp_path)
    assert result == local_run
    # both tasks of each step ran as Ray actors and left datatrove's markers
    assert sorted(p.name for p in (tmp_path / "work" / "1_screen" / "completions").iterdir()) == ["00000", "00001"]
    assert (tmp_path / "work" / "1_screen" / "executor.json").is_file()


@needs_ray
@pytest.mark.slow
def test_ray_listens_on_loopback_only(ray_cluster):
    addresses = listeners_of(tree(ray_cluster["pid"]))
    assert len(addresses) >= 3, f"found too few Ray listeners: {addresses}"  # gcs, raylet, agents
    assert all(a.rsplit(":", 1)[0] in ("127.0.0.1", "[::ffff:127.0.0.1]") for a in addresses), addresses


DRIVER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from alchemist.curate import verdicts
    from alchemist.curate.executors import execute
    from alchemist.curate.stage import curate_shards
    from alchemist.recipe import CurateSpec
    from alchemist.testsets import load_benchmark
    if getattr(verdicts, "execute", None) is not execute:
        verdicts._execute = lambda p, t, w, d, s: execute(p, t, w, d, s, d.name)
    spec, shards, root = CurateSpec.model_validate(json.loads(sys.argv[1])), json.loads(sys.argv[2]), Path(sys.argv[3])
    (root / "out").mkdir(parents=True, exist_ok=True)
    curate_shards(spec, [Path(s) for s in shards], load_benchmark("humaneval"), [], root / "out", root / "work", seed=0)
""")


@needs_ray
@pytest.mark.slow
def test_ray_resumes_after_kill(shards, local_run, ray_cluster, tmp_path, monkeypatch):
    """kill -9 of the driver once the first step's tasks are done; the rerun keeps them (datatrove's
    completion markers) and ends with the local run's verdicts."""
    spec = spec_for(type="ray", address=ray_cluster["address"], mem_per_cpu_gb=0.5)
    screen = tmp_path / "work" / "1_screen" / "completions"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, spec.model_dump_json(), json.dumps([str(s) for s in shards]),
                               str(tmp_path)], cwd=ROOT, env=ray_cluster["env"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (screen.is_dir() and len(list(screen.iterdir())) == 2):
            assert driver.poll() is None, "the driver ended before it could be killed"
            assert time.monotonic() < deadline, "the first step did not finish in 60 s"
            time.sleep(0.02)
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        stop(driver)
    assert not (tmp_path / "work" / "4_filter" / "completions").is_dir(), "killed too late: nothing left to resume"
    finished = [*screen.iterdir(), *(tmp_path / "work" / "verdicts").iterdir()]  # markers, and the verdicts they vouch for
    before = {p: p.stat().st_mtime_ns for p in finished}

    use_executors(monkeypatch)
    result = run_curate(spec, shards, tmp_path)
    assert result == local_run
    assert {p: p.stat().st_mtime_ns for p in before} == before  # the finished tasks did not run again


# ---- Slurm

SLURM_CONF = """\
ClusterName=alchemist
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={dir}/munge/socket
CredType=cred/munge
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
MpiDefault=none
MailProg=/bin/true
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
{node}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def slurm_missing() -> str | None:
    if os.geteuid() != 0:
        return "the one-node Slurm cluster runs its daemons as root; run as root (CI does)"
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue") if not shutil.which(b)]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} missing): bash scripts/ci_clusters.sh installs it"
    return None


needs_slurm = pytest.mark.skipif(slurm_missing() is not None, reason=slurm_missing() or "")


@contextlib.contextmanager
def slurm_cluster():
    """munged + slurmctld + slurmd on 127.0.0.1, state in a temp dir; yields SLURM_CONF's path."""
    import pwd

    why = slurm_missing()
    if why:
        pytest.skip(why)
    root = Path(tempfile.mkdtemp(prefix="slurm", dir="/tmp"))
    root.chmod(0o755)  # munged wants every directory above its socket searchable
    munge = pwd.getpwnam("munge")
    (root / "munge").mkdir()
    os.chown(root / "munge", munge.pw_uid, munge.pw_gid)
    for d in ("state", "spool", "log"):
        (root / d).mkdir()
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    node = "NodeName=localhost NodeAddr=127.0.0.1 " + node.split(" ", 1)[1]
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF.format(dir=root, ctld_port=free_port(), d_port=free_port(), node=node))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs = []

    def start(cmd, **kw):
        log = open(root / "log" / f"{Path(cmd[0]).name}.out", "w")
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kw))

    try:
        start(["munged", "-F", f"--socket={root}/munge/socket", f"--pid-file={root}/munge/pid",
               f"--log-file={root}/munge/log", f"--seed-file={root}/munge/seed"],
              user=munge.pw_uid, group=munge.pw_gid, extra_groups=[])
        deadline = time.monotonic() + 20
        while not (root / "munge" / "socket").exists():
            assert procs[0].poll() is None and time.monotonic() < deadline, (root / "log" / "munged.out").read_text()
            time.sleep(0.05)
        start(["slurmctld", "-D", "-f", str(conf)])
        start(["slurmd", "-D", "-f", str(conf), "-N", "localhost"])
        while subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout.strip() != "idle":
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                logs = "\n".join(f.read_text()[-1500:] for f in (root / "log").glob("*"))
                pytest.fail(f"the Slurm cluster did not come up:\n{logs}")
            time.sleep(0.2)
        yield conf
    finally:
        subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(root, ignore_errors=True)


@needs_slurm
@pytest.mark.slow
def test_slurm_matches_local(shards, local_run, tmp_path, monkeypatch):
    with slurm_cluster() as conf:
        monkeypatch.setenv("SLURM_CONF", str(conf))
        use_executors(monkeypatch)
        pids = tree(int((conf.parent / "slurmctld.pid").read_text())) | tree(int((conf.parent / "slurmd.pid").read_text()))
        assert all(a.startswith("127.0.0.1:") for a in listeners_of(pids)), listeners_of(pids)
        spec = spec_for(type="slurm", partition="debug", time="00:10:00", mem_per_cpu_gb=0.5)
        result = run_curate(spec, shards, tmp_path)
    assert result == local_run
    # the screen step ran as a job array of two tasks, with the recipe's #SBATCH settings
    script = (tmp_path / "work" / "1_screen" / "launch_script.slurm").read_text()
    for line in ("#SBATCH --array=0-1%2", "#SBATCH --partition=debug", "#SBATCH --time=00:10:00", "#SBATCH --mem-per-cpu=512M"):
        assert line in script
    assert len(list((tmp_path / "work" / "1_screen" / "slurm_logs").glob("*_*.out"))) >= 2


@needs_slurm
@pytest.mark.slow
def test_slurm_failed_task_is_an_error(shards, tmp_path, monkeypatch):
    """A task that dies on the cluster is a UserError naming the logs, not a silent short result."""
    from alchemist.curate.steps import PassedReader
    from alchemist.errors import UserError

    verdict_dir = tmp_path / "verdicts"  # rank 0's file only: rank 1 fails to open its own
    verdict_dir.mkdir()
    (verdict_dir / "00000.jsonl").write_text('{"idx": 0, "reason": null}\n')

    with slurm_cluster() as conf:
        monkeypatch.setenv("SLURM_CONF", str(conf))
        spec = spec_for(type="slurm", partition="debug", time="00:10:00", mem_per_cpu_gb=0.5)
        with pytest.raises(UserError, match=r"1 of 2 tasks did not finish on slurm \(ranks \[1\]\).*slurm_logs"):
            execute([PassedReader(str(verdict_dir))], 2, 2, tmp_path / "boom", spec, "boom")


@needs_ray
@pytest.mark.slow
def test_every_signal_gives_a_ray_worker_the_local_verdicts():
    """Ray and Slurm tasks run in fresh interpreters, not forks of the process that built the
    benchmark index: the structure and embedding signals must not depend on process state."""
    script = textwrap.dedent("""
        import os, json
        from alchemist.curate.spec import CurateSpec
        from alchemist.rules.decontaminate import build_index, contamination_batch
        from alchemist.testsets import load_benchmark
        from alchemist.schema import Sample
        from tests.helpers import stdlib_functions
        import ray
        spec = CurateSpec.model_validate({"decontaminate": {"benchmarks": ["humaneval"]}})
        problems = load_benchmark("humaneval")
        index = build_index(problems, spec.decontaminate)
        texts = [(r["instruction"], r["output"]) for r in stdlib_functions(limit=150)]
        texts += [(f"Finish this: {p.prompt}", p.solution) for p in problems[:10]]
        samples = [Sample(source="s", messages=[{"role": "user", "content": q}, {"role": "assistant", "content": a}])
                   for q, a in texts]
        def summary(results):
            return [[sorted((m["task_id"], m["signal"]) for m in (d or {}).get("matches", [])),
                     sorted((m["task_id"], m["signal"]) for m in n)] for d, n in results]
        local = summary(contamination_batch(samples, index))
        ray.init(address="local", include_dashboard=False, logging_level="warning", num_cpus=1)
        remote = ray.get(ray.remote(lambda i, s: summary(contamination_batch(s, i))).remote(index, samples))
        ray.shutdown()
        print(json.dumps({"same": local == remote, "flagged": sum(bool(x[0]) for x in local)}))
    """)
    from alchemist.testsets import cache_dir

    # a plain ray.init() writes ~/.ray/auth_token and turns token auth on for every later cluster
    # of the machine: give it a home of its own (and the real alchemist cache, not a cold one)
    home = Path(tempfile.mkdtemp())
    try:
        r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600,
                           env={**os.environ, **RAY_ENV, "PYTHONPATH": str(ROOT), "HOME": str(home),
                                "ALCHEMIST_CACHE": str(cache_dir())})
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["same"] and result["flagged"] >= 10
