#!/usr/bin/env python3
"""Throughput benchmark of the charmfuzz target adapter (see scripts/bench-target.sh).

Two sub-commands:

``bench``   runs ``charmfuzz run --json --keep-going`` on the same seeds in fork mode
            (bubblewrap containment as `auto` picks it, and `--containment none`) and in exec
            mode, pinned to one core with ``taskset``, then replays the realised fork-mode
            traces in-process through ops.testing (the ``replay`` sub-command, in the project
            venv) and prints events per second for each, the ratios and whether the issue's
            aims are met.

``replay``  replays traces (the JSON ``charmfuzz run --json`` prints) event by event through
            ``ops.testing.Context.run``, threading the output state of one event into the
            next, and prints a JSON summary; only the ``ctx.run`` calls are timed.

Nothing here tunes the numbers: every figure printed is what was measured on this run.
"""

# ruff: noqa: B023  (the replay helpers are closures over one trace and only called while replaying it)

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The aims.
AIM_RATIO = 30.0  # fork mode at least 30 times exec mode
AIM_FORK_EPS = 200.0  # at least 200 events per second on one core (Kubernetes demo)


# --------------------------------------------------------------------------- bench


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class RunResult:
    def __init__(self, seed: int, wall: float, cpu: float, code: int, doc: dict):
        self.seed = seed
        self.wall = wall
        self.cpu = cpu
        self.code = code
        self.doc = doc
        outcomes = doc.get("outcomes", [])
        self.events = len(outcomes)
        self.hook_seconds = sum(float(o.get("seconds", 0.0)) for o in outcomes)
        self.hooks = [o.get("hook") for o in outcomes]
        self.failed = sum(1 for o in outcomes if o.get("result") not in (None, "ok"))


def charmfuzz_run(
    binary: Path, cpu: str, charm: Path, seed: int, steps: int, mode: str, containment: str | None
) -> RunResult:
    cmd = ["taskset", "-c", cpu, str(binary), "run", "--charm", str(charm), "--seed", str(seed)]
    cmd += ["--steps", str(steps), "--mode", mode, "--json", "--keep-going"]
    if containment:
        cmd += ["--containment", containment]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of every process that was reaped along the chain: the worker and its hook
    # children without containment; under bubblewrap they are not (only charmfuzz itself is).
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"charmfuzz failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-4000:]}"
        )
    try:
        doc = json.loads(proc.stdout)
    except ValueError as e:
        raise SystemExit(f"charmfuzz printed no JSON: {' '.join(cmd)}: {e}\n{proc.stderr[-2000:]}")
    return RunResult(seed, wall, cpu, proc.returncode, doc)


class Config:
    """One way of running charmfuzz: a mode and a containment."""

    def __init__(self, key: str, label: str, mode: str, containment: str | None):
        self.key, self.label, self.mode, self.containment = key, label, mode, containment


CONFIGS = [
    Config("fork", "fork (containment auto)", "fork", None),
    Config("fork-none", "fork (containment none)", "fork", "none"),
    Config("exec", "exec (containment auto)", "exec", None),
]


def aggregate(runs: list[RunResult], startup: float, startup_cpu: float, cpu_ok: bool) -> dict:
    events = sum(r.events for r in runs)
    wall = sum(r.wall for r in runs)
    hook = sum(r.hook_seconds for r in runs)
    net = wall - startup * len(runs)
    cpu_net = sum(r.cpu for r in runs) - startup_cpu * len(runs)
    return {
        "runs": len(runs),
        "events": events,
        "wall": wall,
        "net": net,
        "hook": hook,
        "eps_raw": events / wall if wall > 0 else float("nan"),
        "eps_wall": events / net if net > 0 else float("nan"),
        "eps_hook": events / hook if hook > 0 else float("nan"),
        "cpu": cpu_net if cpu_ok else float("nan"),
        "eps_cpu": events / cpu_net if cpu_ok and cpu_net > 0 else float("nan"),
        "failed": sum(r.failed for r in runs),
        "findings": sum(1 for r in runs if r.code == 1),
    }


def fmt(x: float, digits: int = 1) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x:,.{digits}f}"


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else float("nan")


def detect_containment(binary: Path) -> str:
    """What `--containment auto` picks here (bubblewrap if it works)."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "none (bwrap not installed)"
    probe = subprocess.run(
        [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--", "true"], capture_output=True, check=False
    )
    return "bwrap" if probe.returncode == 0 else "none (bwrap does not work here)"


def host_writes(charm: Path) -> list[str]:
    """The host paths the charm writes outside its own directories (`[target] writable`):
    without containment these writes land on this machine."""
    import tomllib

    cfg = charm / "charmfuzz.toml"
    if not cfg.exists():
        return []
    return [str(w) for w in tomllib.loads(cfg.read_text()).get("target", {}).get("writable", [])]


def bench_charm(args, charm: Path, workdir: Path) -> dict:
    name = charm.name
    writes = host_writes(charm)
    configs = [
        c for c in CONFIGS
        if not (c.containment == "none" and writes and not args.allow_host_writes)
    ]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    exec_n = args.seeds if args.exec_seeds in ("all", "0") else min(int(args.exec_seeds), args.seeds)
    exec_seeds = seeds[:exec_n]
    out: dict = {"charm": str(charm), "seeds": seeds, "exec_seeds": exec_seeds,
                 "none_skipped": writes if len(configs) < len(CONFIGS) else []}

    # Start-up: a story of no actions (no events) costs the worker start, the sandbox and the
    # teardown; the median of a few runs is subtracted once per run below.
    startup: dict[str, float] = {}
    startup_cpu: dict[str, float] = {}
    for cfg in configs:
        reps = [
            charmfuzz_run(args.binary, args.cpu, charm, seeds[0], 0, cfg.mode, cfg.containment)
            for _ in range(args.startup_reps)
        ]
        times = [r.wall for r in reps]
        startup[cfg.key] = statistics.median(times)
        startup_cpu[cfg.key] = statistics.median(r.cpu for r in reps)
        log(f"[{name}] start-up {cfg.label}: {', '.join(f'{t:.3f}' for t in times)} s")
    out["startup"] = startup
    out["startup_cpu"] = startup_cpu

    runs: dict[str, list[RunResult]] = {}
    for cfg in configs:
        todo = exec_seeds if cfg.mode == "exec" else seeds
        runs[cfg.key] = []
        t0 = time.perf_counter()
        for seed in todo:
            r = charmfuzz_run(args.binary, args.cpu, charm, seed, args.steps, cfg.mode, cfg.containment)
            runs[cfg.key].append(r)
            if cfg.key == "fork":
                (workdir / f"{name}-seed{seed}.json").write_text(json.dumps(r.doc))
        total = sum(r.events for r in runs[cfg.key])
        log(f"[{name}] {cfg.label}: {len(todo)} runs, {total} events, {time.perf_counter() - t0:.1f} s")

    # The same traces: fork and exec must have delivered the same hooks for every seed.
    by_seed = {r.seed: r for r in runs["fork"]}
    mismatched = [r.seed for r in runs["exec"] if r.hooks != by_seed[r.seed].hooks]
    mismatched_none = [r.seed for r in runs.get("fork-none", []) if r.hooks != by_seed[r.seed].hooks]
    out["mismatched_exec"] = mismatched
    out["mismatched_none"] = mismatched_none

    cpu_ok = {c.key: c.containment == "none" or args.containment_auto == "none" for c in configs}
    agg = {k: aggregate(v, startup[k], startup_cpu[k], cpu_ok[k]) for k, v in runs.items()}
    fork_on_exec = [by_seed[s] for s in exec_seeds]
    agg["fork@exec"] = aggregate(fork_on_exec, startup["fork"], startup_cpu["fork"], cpu_ok["fork"])
    out["agg"] = agg

    # ops.testing: replay the fork-mode traces in-process, in the project venv, on the same core.
    files = [str(workdir / f"{name}-seed{s}.json") for s in seeds]
    cmd = ["taskset", "-c", args.cpu, args.python, str(Path(__file__).resolve()), "replay"]
    cmd += ["--charm", str(charm)] + files
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log(f"[{name}] ops.testing replay: {time.perf_counter() - t0:.1f} s")
    if proc.returncode != 0:
        log(f"[{name}] ops.testing replay failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        out["replay"] = None
    else:
        out["replay"] = json.loads(proc.stdout)
    return out


def print_report(args, results: list[dict], containment: str) -> None:
    p = print
    p("")
    p("charmfuzz target throughput (scripts/bench-target.sh)")
    p(f"  binary {args.binary}; pinned to CPU {args.cpu} with taskset; containment auto = {containment}")
    p(f"  load average before the run: {args.load_before}; after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
      f" ({os.cpu_count()} CPUs)")
    p("  wall ev/s = events / (sum of command wall times - runs x start-up); hook ev/s = events /"
      " sum of per-event `seconds`;")
    p("  raw ev/s = events / sum of command wall times (start-up included); cpu ev/s = events / CPU seconds of")
    p("  the reaped processes minus start-up CPU (only without containment: bubblewrap's children are not")
    p("  reaped into this process's rusage, so n/a there). Wall figures include waiting for the shared core.")
    verdicts = []
    for res in results:
        name = Path(res["charm"]).name
        seeds, exec_seeds = res["seeds"], res["exec_seeds"]
        agg, st = res["agg"], res["startup"]
        p("")
        p(f"== {name}: seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), --steps {args.steps}; "
          f"exec on seeds {exec_seeds[0]}..{exec_seeds[-1]} ({len(exec_seeds)})")
        none_st = f"fork/none {st['fork-none']:.3f} s, " if "fork-none" in st else ""
        p(f"   start-up (--steps 0, median of {args.startup_reps}): fork {st['fork']:.3f} s, "
          f"{none_st}exec {st['exec']:.3f} s")
        hdr = (f"   {'mode':<34} {'runs':>4} {'events':>6} {'wall s':>8} {'raw ev/s':>9} {'wall ev/s':>10} "
               f"{'hook s':>8} {'hook ev/s':>10} {'cpu ev/s':>9}")
        p(hdr)
        p("   " + "-" * (len(hdr) - 3))
        rows = [
            ("fork (containment auto)", agg["fork"]),
            *([("fork (containment none)", agg["fork-none"])] if "fork-none" in agg else []),
            (f"fork, exec's {len(exec_seeds)} seeds", agg["fork@exec"]),
            (f"exec, {len(exec_seeds)} seeds", agg["exec"]),
        ]
        for label, a in rows:
            p(f"   {label:<34} {a['runs']:>4} {a['events']:>6} {a['wall']:>8.2f} {fmt(a['eps_raw']):>9} "
              f"{fmt(a['eps_wall']):>10} {a['hook']:>8.2f} {fmt(a['eps_hook']):>10} {fmt(a['eps_cpu']):>9}")
        rp = res.get("replay")
        if rp:
            eps = rp["ran"] / rp["run_seconds"] if rp["run_seconds"] > 0 else float("nan")
            eps_cpu = rp["ran"] / rp["cpu_seconds"] if rp["cpu_seconds"] > 0 else float("nan")
            p(f"   {'ops.testing (in-process) *':<34} {rp['traces']:>4} {rp['ran']:>6} {'':>8} {'':>9} "
              f"{fmt(eps):>10} {rp['run_seconds']:>8.2f} {fmt(eps):>10} {fmt(eps_cpu):>9}")
            skipped = ", ".join(f"{k} {v}" for k, v in sorted(rp["skipped"].items())) or "none"
            p(f"     * ops.testing: only the ctx.run calls are timed (wall/hook: elapsed, cpu: process time; importing ops and the charm "
              f"is not counted); {rp['events']} trace events, {rp['ran']} run, "
              f"skipped {sum(rp['skipped'].values())} ({skipped});")
            p(f"     charm exceptions caught {rp['charm_errors']} (hook failed in the trace too: "
              f"{rp['errors_expected']}), actions failed {rp['action_failed']}, "
              f"state rejected by ops.testing {rp['inconsistent']}")
            for msg in rp["examples"][:3]:
                p(f"       e.g. {msg}")
        else:
            eps = float("nan")
            p("   ops.testing: the replay failed (see stderr)")
        if res["mismatched_exec"]:
            p(f"   WARNING: exec delivered different hooks than fork for seeds {res['mismatched_exec']}")
        if res["mismatched_none"]:
            p(f"   WARNING: fork/none delivered different hooks than fork/auto for seeds {res['mismatched_none']}")
        f, e, fn = agg["fork@exec"], agg["exec"], agg["fork"]
        r_wall, r_hook = ratio(f["eps_wall"], e["eps_wall"]), ratio(f["eps_hook"], e["eps_hook"])
        r_raw = ratio(f["eps_raw"], e["eps_raw"])
        p("   ratios:")
        p(f"     fork / exec (same {len(exec_seeds)} traces): wall {fmt(r_wall)}x, hook time {fmt(r_hook)}x, "
          f"raw {fmt(r_raw)}x")
        p(f"     fork / ops.testing: wall {fmt(ratio(fn['eps_wall'], eps), 2)}x, hook time "
          f"{fmt(ratio(fn['eps_hook'], eps), 2)}x;  exec / ops.testing: wall {fmt(ratio(e['eps_wall'], eps), 3)}x")
        if "fork-none" in agg:
            cost = ratio(agg["fork-none"]["eps_wall"], fn["eps_wall"])
            cost_h = ratio(agg["fork-none"]["eps_hook"], fn["eps_hook"])
            p(f"     containment cost: fork without containment runs {fmt(cost, 2)}x the events/s of fork with it "
              f"(wall), {fmt(cost_h, 2)}x (hook time); start-up {st['fork-none']:.3f} s vs {st['fork']:.3f} s")
        else:
            p(f"     containment cost: not measured; without containment this charm writes to this machine "
              f"({', '.join(res['none_skipped'])}); pass --allow-host-writes to measure it anyway")
        meets_ratio = {m: v >= AIM_RATIO for m, v in (("wall", r_wall), ("hook time", r_hook))}
        line = ", ".join(f"{m} {'MET' if ok else 'NOT MET'}" for m, ok in meets_ratio.items())
        verdicts.append(f"{name}: fork >= {AIM_RATIO:.0f}x exec: {line} ({fmt(r_wall)}x wall, {fmt(r_hook)}x hook time)")
        if "k8s" in name or "kubernetes" in str(rp.get("substrate", "") if rp else ""):
            ok_w, ok_h = fn["eps_wall"] >= AIM_FORK_EPS, fn["eps_hook"] >= AIM_FORK_EPS
            verdicts.append(
                f"{name}: fork >= {AIM_FORK_EPS:.0f} events/s on one core: wall {'MET' if ok_w else 'NOT MET'} "
                f"({fmt(fn['eps_wall'])} ev/s), hook time {'MET' if ok_h else 'NOT MET'} ({fmt(fn['eps_hook'])} ev/s)"
            )
    p("")
    p("== the issue's aims (as measured on this run, on a shared machine)")
    for v in verdicts:
        p(f"   {v}")


def cmd_bench(args) -> int:
    args.binary = Path(args.binary).resolve()
    if not args.binary.is_file():
        raise SystemExit(f"no charmfuzz binary at {args.binary} (cargo build --release --bin charmfuzz)")
    charms = [Path(c).resolve() for c in (args.charm or [])] or [
        ROOT / "examples/charms/demo-k8s-clean",
        ROOT / "examples/charms/demo-machine-clean",
    ]
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    containment = detect_containment(args.binary)
    args.containment_auto = containment.split()[0]
    keep = Path(args.keep).resolve() if args.keep else None
    tmp = tempfile.TemporaryDirectory(prefix="charmfuzz-bench-")
    workdir = keep or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = [bench_charm(args, c, workdir) for c in charms]
    print_report(args, results, containment)
    print(f"\n(total bench time {time.perf_counter() - t0:.0f} s"
          + (f"; run JSON kept in {workdir})" if keep else ")"))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, default=str))
    tmp.cleanup()
    return 0


# --------------------------------------------------------------------------- replay


def cmd_replay(args) -> int:
    import dataclasses
    import importlib.util
    import tomllib

    import ops
    import yaml
    from ops import pebble, testing
    from ops._private.harness import ActionFailed
    from scenario.errors import InconsistentScenarioError, UncaughtCharmError
    from scenario.state import _Event

    charm_dir = Path(args.charm).resolve()

    # ---- the charm's metadata
    meta: dict = {}
    config_meta = actions_meta = None
    ccy = charm_dir / "charmcraft.yaml"
    if ccy.exists():
        cc = yaml.safe_load(ccy.read_text()) or {}
        if "name" in cc:  # unified charmcraft.yaml
            meta = dict(cc)
            config_meta = meta.pop("config", None)
            actions_meta = meta.pop("actions", None)
    if not meta:
        meta = yaml.safe_load((charm_dir / "metadata.yaml").read_text())
    if config_meta is None and (charm_dir / "config.yaml").exists():
        config_meta = yaml.safe_load((charm_dir / "config.yaml").read_text())
    if actions_meta is None and (charm_dir / "actions.yaml").exists():
        actions_meta = yaml.safe_load((charm_dir / "actions.yaml").read_text())
    peer_endpoints = set((meta.get("peers") or {}).keys())
    container_names = list((meta.get("containers") or {}).keys())

    # ---- charmfuzz.toml: shimmed programs and writable paths, as the target has them
    fuzz_cfg = {}
    if (charm_dir / "charmfuzz.toml").exists():
        fuzz_cfg = tomllib.loads((charm_dir / "charmfuzz.toml").read_text())
    target_cfg = fuzz_cfg.get("target", {})
    shims = {s: {} for s in ("apt-get", "apt", "apt-cache", "dpkg", "snap", "systemctl",
                             "service", "update-rc.d", "hostnamectl")}
    shims.update(target_cfg.get("shims", {}))
    entry = charm_dir / target_cfg.get("entry", "src/charm.py")

    # Machine charms run apt-get/systemctl; answer them as the target's shims do, in-process.
    real_run = subprocess.run

    def fake_run(cmd, *a, **kw):
        argv = [cmd] if isinstance(cmd, str) else list(cmd)
        prog = os.path.basename(str(argv[0]).split()[0]) if argv else ""
        if prog in shims:
            ans = shims[prog]
            code, out, err = int(ans.get("exit", 0)), ans.get("stdout", ""), ans.get("stderr", "")
            if not (kw.get("text") or kw.get("universal_newlines") or kw.get("encoding")):
                out, err = out.encode(), err.encode()
            if kw.get("check") and code:
                raise subprocess.CalledProcessError(code, argv, out, err)
            return subprocess.CompletedProcess(argv, code, out, err)
        return real_run(cmd, *a, **kw)

    subprocess.run = fake_run

    # ---- import the charm
    for sub in ("lib", "src", "venv"):
        if (charm_dir / sub).is_dir():
            sys.path.insert(0, str(charm_dir / sub))
    spec = importlib.util.spec_from_file_location("charm", entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules["charm"] = module
    spec.loader.exec_module(module)
    classes = [
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ops.CharmBase) and v.__module__ == "charm"
    ]
    if len(classes) != 1:
        raise SystemExit(f"expected one CharmBase subclass in {entry}, found {classes}")
    charm_cls = classes[0]

    # Writable layers ([target] writable, e.g. /etc/demo): point module-level paths under them
    # at a scratch directory so the charm does not write to this machine.
    scratch = Path(tempfile.mkdtemp(prefix="charmfuzz-replay-"))
    for w in target_cfg.get("writable", []):
        w = Path(w)
        for k, v in list(vars(module).items()):
            if isinstance(v, Path) and (v == w or w in v.parents):
                setattr(module, k, scratch / v.relative_to("/"))
            elif isinstance(v, str) and (v == str(w) or v.startswith(str(w) + "/")):
                setattr(module, k, str(scratch / v.lstrip("/")))

    def unit_num(name: str) -> int:
        return int(name.rsplit("/", 1)[1])

    summary = {
        "traces": 0, "events": 0, "ran": 0, "run_seconds": 0.0, "cpu_seconds": 0.0, "skipped": {},
        "charm_errors": 0, "errors_expected": 0, "action_failed": 0, "inconsistent": 0,
        "examples": [], "substrate": "",
    }

    def skip(reason: str) -> None:
        summary["skipped"][reason] = summary["skipped"].get(reason, 0) + 1

    def example(msg: str) -> None:
        msg = msg[:300]
        if len(summary["examples"]) < 5 and msg not in summary["examples"]:
            summary["examples"].append(msg)

    for path in args.traces:
        doc = json.loads(Path(path).read_text())
        trace = doc["trace"]
        summary["traces"] += 1
        summary["substrate"] = trace.get("substrate", "")
        k8s = trace.get("substrate") == "kubernetes"
        app, unit_id = trace["unit"].rsplit("/", 1)
        ctx = testing.Context(
            charm_cls, meta=meta, config=config_meta, actions=actions_meta, app_name=app,
            unit_id=int(unit_id), juju_version=trace.get("options", {}).get("juju-version", "3.6.4"),
        )

        # Juju's side of the world, kept from the actions; the charm's side (its databags, stored
        # state, secrets it owns, Pebble layers, ports, statuses, deferred events) is threaded
        # from one ctx.run's output state into the next.
        leader = False
        config: dict = {}
        rels: dict[int, dict] = {}  # id -> endpoint, remote_app, peer, units[], app_data
        gone: dict[int, dict] = {}  # relations after relation-broken (a suspended one may resume)
        unit_data: dict[int, dict[str, dict]] = {}  # relation id -> remote unit -> databag
        storages: set[tuple[str, int]] = set()
        can_connect = {c: False for c in container_names}
        notices = {c: [] for c in container_names}
        granted: dict[str, testing.Secret] = {}  # secrets of others, by trace id
        owned_ids: dict[str, str] = {}  # trace secret id -> ops.testing secret id
        state = testing.State(
            containers=[testing.Container(c, can_connect=False) for c in container_names]
        )

        def build_state() -> testing.State:
            prev_rel = {r.id: r for r in state.relations}
            relations = []
            for rid, r in rels.items():
                old = prev_rel.get(rid)
                local = {}
                if old is not None:
                    local = {"local_app_data": dict(old.local_app_data),
                             "local_unit_data": dict(old.local_unit_data)}
                data = {
                    unit_num(u): dict(unit_data.get(rid, {}).get(u) or
                                      {"egress-subnets": "10.0.0.1/32", "ingress-address": "10.0.0.1",
                                       "private-address": "10.0.0.1"})
                    for u in r["units"]
                }
                if r["peer"]:
                    relations.append(testing.PeerRelation(r["endpoint"], id=rid, peers_data=data, **local))
                else:
                    relations.append(testing.Relation(
                        r["endpoint"], id=rid, remote_app_name=r["remote_app"],
                        remote_app_data=dict(r["app_data"]), remote_units_data=data, **local,
                    ))
            containers = []
            prev_c = {c.name: c for c in state.containers}
            for name in container_names:
                c = prev_c.get(name) or testing.Container(name)
                containers.append(dataclasses.replace(
                    c, can_connect=can_connect[name], notices=list(notices[name])))
            secrets = [s for s in state.secrets if s.owner is not None] + list(granted.values())
            return dataclasses.replace(
                state, relations=relations, containers=containers, leader=leader, config=dict(config),
                storages=[testing.Storage(n, index=i) for n, i in sorted(storages)], secrets=secrets,
            )

        def owned_secret(env: dict):
            sid = env.get("JUJU_SECRET_ID", "")
            label = env.get("JUJU_SECRET_LABEL") or None
            for s in state.secrets:
                if s.owner is not None and (s.id == owned_ids.get(sid) or (label and s.label == label)):
                    return s
            return None

        for step in trace["steps"]:
            act = step.get("action")
            if act == "deploy":
                leader = bool(step.get("leader"))
                for r in step.get("relations", []):
                    rels[r["id"]] = {"endpoint": r["endpoint"], "remote_app": r["remote_app"],
                                     "peer": r["endpoint"] in peer_endpoints, "units": [], "app_data": {}}
            elif act == "config":
                for k, v in step.get("changes", {}).items():
                    if v is None:
                        config.pop(k, None)
                    else:
                        config[k] = v
            elif act == "integrate":
                r = step["relation"]
                rels[r["id"]] = {"endpoint": r["endpoint"], "remote_app": r["remote_app"],
                                 "peer": r["endpoint"] in peer_endpoints, "units": [], "app_data": {}}
            elif act == "remote-unit-data":
                unit_data.setdefault(step["relation_id"], {})[step["unit"]] = dict(step.get("data") or {})
            elif act == "remote-app-data":
                if step["relation_id"] in rels:
                    rels[step["relation_id"]]["app_data"] = dict(step.get("data") or {})
            elif act == "leadership-gained":
                leader = True
            elif act == "leadership-lost":
                leader = False
            elif act == "workload-started":
                can_connect[step["container"]] = True
            elif act == "workload-stopped":
                can_connect[step["container"]] = False
            elif act == "custom-notice":
                c = step["container"]
                notices[c] = [n for n in notices[c] if n.key != step["key"]] + [
                    testing.Notice(step["key"], id=str(step["notice_id"]))]
            elif act == "secret-granted":
                content = {k: str(v) for k, v in (step.get("content") or {"x": "y"}).items()}
                granted[step["id"]] = testing.Secret(content, id=step["id"], owner=None)
            elif act == "secret-revised":
                s = granted.get(step["id"])
                if s is not None:
                    content = {k: str(v) for k, v in (step.get("content") or {}).items()}
                    granted[step["id"]] = dataclasses.replace(s, latest_content=content)
            elif k8s and act in ("pod-recreated", "charm-container-restarted", "refresh"):
                # The pod's (or the charm container's) local unit state and deferred events are
                # lost; a new pod also restarts the workload containers.
                state = dataclasses.replace(state, stored_states=[], deferred=[])
                if act != "charm-container-restarted":
                    for c in container_names:
                        can_connect[c] = False
                    state = dataclasses.replace(state, containers=[
                        testing.Container(c) for c in container_names])

            for ev in step.get("events", []):
                summary["events"] += 1
                kind, env = ev["kind"], ev.get("env", {})
                rid = None
                if env.get("JUJU_RELATION_ID"):
                    rid = int(env["JUJU_RELATION_ID"].rsplit(":", 1)[1])
                remote = env.get("JUJU_REMOTE_UNIT") or ""
                after = None  # what to drop from the model once the event ran
                if kind == "relation-created" and rid not in rels and rid in gone:
                    rels[rid] = gone.pop(rid)  # resume-relation: created again, same id
                # bring Juju's side in line with what the event implies
                if (kind in ("relation-joined", "relation-changed", "relation-departed") and rid in rels
                        and remote and remote not in rels[rid]["units"]):
                    rels[rid]["units"].append(remote)
                if kind == "storage-attached":
                    n, i = env["JUJU_STORAGE_ID"].split("/")
                    storages.add((n, int(i)))
                if kind == "pebble-ready":
                    can_connect[env["JUJU_WORKLOAD_NAME"]] = True
                if kind in ("pebble-custom-notice",) and env.get("JUJU_WORKLOAD_NAME") in notices:
                    c = env["JUJU_WORKLOAD_NAME"]
                    if not any(n.id == env.get("JUJU_NOTICE_ID") for n in notices[c]):
                        notices[c].append(testing.Notice(env.get("JUJU_NOTICE_KEY", "x.example/k"),
                                                         id=env.get("JUJU_NOTICE_ID")))
                try:
                    st = build_state()
                except Exception as e:  # noqa: BLE001 - a state ops.testing refuses to build
                    skip(f"state-invalid:{kind}")
                    example(f"{ev['hook']}: cannot build the state: {e!r}")
                    continue
                on = ctx.on
                event = None
                rel = next((r for r in st.relations if r.id == rid), None)
                try:
                    if kind in ("install", "start", "stop", "remove", "config-changed", "update-status",
                                "upgrade-charm", "leader-elected", "pre-series-upgrade",
                                "post-series-upgrade"):
                        event = getattr(on, kind.replace("-", "_"))()
                    elif kind in ("leader-settings-changed", "collect-metrics"):
                        # not in ctx.on any more; ops.testing's own event type still runs them
                        event = _Event(kind.replace("-", "_"))
                    elif kind.startswith("relation-"):
                        if rel is None:
                            skip(f"{kind} (relation not in the model)")
                            continue
                        num = unit_num(remote) if remote else None
                        if (kind in ("relation-joined", "relation-changed", "relation-departed")
                                and num is None and not rel._remote_unit_ids):
                            # an application-level change with no remote unit on the relation:
                            # ops.testing insists on a remote unit for these events
                            skip(f"{kind} (app-level, no remote units: ops.testing needs one)")
                            continue
                        if kind == "relation-created":
                            event = on.relation_created(rel)
                        elif kind == "relation-joined":
                            event = on.relation_joined(rel, remote_unit=num)
                        elif kind == "relation-changed":
                            event = on.relation_changed(rel, remote_unit=num)
                        elif kind == "relation-departed":
                            dep = env.get("JUJU_DEPARTING_UNIT", "")
                            remote_app = getattr(rel, "remote_app_name", app)
                            dep_num = unit_num(dep) if dep and dep.rsplit("/", 1)[0] == remote_app else None
                            event = on.relation_departed(rel, remote_unit=num, departing_unit=dep_num)
                            after = ("unit", rid, remote)
                        elif kind == "relation-broken":
                            event = on.relation_broken(rel)
                            after = ("relation", rid)
                    elif kind in ("storage-attached", "storage-detaching"):
                        n, i = env["JUJU_STORAGE_ID"].split("/")
                        s = testing.Storage(n, index=int(i))
                        if kind == "storage-attached":
                            event = on.storage_attached(s)
                        else:
                            event = on.storage_detaching(s)
                            after = ("storage", (n, int(i)))
                    elif kind.startswith("pebble-"):
                        c = st.get_container(env["JUJU_WORKLOAD_NAME"])
                        if kind == "pebble-ready":
                            event = on.pebble_ready(c)
                        elif kind == "pebble-custom-notice":
                            notice = next(n for n in c.notices if n.id == env.get("JUJU_NOTICE_ID"))
                            event = on.pebble_custom_notice(c, notice)
                        else:
                            name = env["JUJU_PEBBLE_CHECK_NAME"]
                            failed = kind == "pebble-check-failed"
                            info = testing.CheckInfo(
                                name, level=pebble.CheckLevel.ALIVE,
                                status=pebble.CheckStatus.DOWN if failed else pebble.CheckStatus.UP,
                                failures=3 if failed else 0)
                            c2 = dataclasses.replace(
                                c, check_infos=[i for i in c.check_infos if i.name != name] + [info])
                            st = dataclasses.replace(
                                st, containers=[c2 if x.name == c.name else x for x in st.containers])
                            event = (on.pebble_check_failed if failed else on.pebble_check_recovered)(c2, info)
                    elif kind == "action":
                        event = on.action(env.get("JUJU_ACTION_NAME") or ev["hook"].removesuffix("-action"),
                                          params=ev.get("params") or {})
                    elif kind == "secret-changed":
                        s = granted.get(env.get("JUJU_SECRET_ID", ""))
                        if s is None:
                            skip("secret-changed (secret unknown)")
                            continue
                        event = on.secret_changed(s)
                    elif kind in ("secret-rotate", "secret-expired", "secret-remove"):
                        s = owned_secret(env)
                        if s is None:
                            skip(f"{kind} (secret not owned in the replay)")
                            continue
                        if kind == "secret-rotate":
                            event = on.secret_rotate(s)
                        else:
                            rev = int(env.get("JUJU_SECRET_REVISION") or 1)
                            event = getattr(on, kind.replace("-", "_"))(s, revision=rev)
                    else:
                        skip(f"{kind} (not mapped)")
                        continue
                except Exception as e:  # noqa: BLE001 - an event ops.testing cannot build
                    skip(f"{kind} (event not built)")
                    example(f"{ev['hook']}: cannot build the event: {e!r}")
                    continue

                before_secrets = {s.id for s in st.secrets}
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    out = ctx.run(event, st)
                    summary["run_seconds"] += time.perf_counter() - t0
                    summary["cpu_seconds"] += time.process_time() - c0
                except ActionFailed as e:
                    summary["run_seconds"] += time.perf_counter() - t0
                    summary["cpu_seconds"] += time.process_time() - c0
                    summary["action_failed"] += 1
                    out = e.state
                except UncaughtCharmError as e:
                    summary["run_seconds"] += time.perf_counter() - t0
                    summary["cpu_seconds"] += time.process_time() - c0
                    summary["charm_errors"] += 1
                    if ev.get("result") == "error":
                        summary["errors_expected"] += 1
                    example(f"{ev['hook']}: {str(e)[:200]}")
                    out = None  # Juju rolls the hook's changes back
                except InconsistentScenarioError as e:
                    summary["inconsistent"] += 1
                    skip(f"{kind} (state rejected)")
                    example(f"{ev['hook']}: ops.testing rejected the state: {str(e)[:200]}")
                    continue
                summary["ran"] += 1
                if out is not None:
                    state = out
                    # map the secrets the charm created to the trace's ids (by label, else order)
                    created = [e for e in ev.get("effects", []) if e.get("effect") == "secret-created"]
                    new = [s for s in state.secrets if s.id not in before_secrets and s.owner]
                    for eff in created:
                        match = next((s for s in new if eff.get("label") and s.label == eff["label"]),
                                     new[0] if new else None)
                        if match is not None:
                            owned_ids[eff["id"]] = match.id
                            new.remove(match)
                if after:
                    if after[0] == "unit" and after[1] in rels and after[2] in rels[after[1]]["units"]:
                        rels[after[1]]["units"].remove(after[2])
                    elif after[0] == "relation" and after[1] in rels:
                        gone[after[1]] = dict(rels.pop(after[1]), units=[])
                    elif after[0] == "storage":
                        storages.discard(after[1])

    shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(summary))
    return 0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="run the benchmark and print the table")
    b.add_argument("--charm", action="append", help="charm directory (repeatable; default: both clean demos)")
    b.add_argument("--seeds", type=int, default=20)
    b.add_argument("--first-seed", type=int, default=1)
    b.add_argument("--steps", type=int, default=10)
    b.add_argument("--exec-seeds", default="5", help="exec mode runs on the first N seeds ('all' for every seed)")
    b.add_argument("--startup-reps", type=int, default=3)
    b.add_argument("--cpu", default="0")
    b.add_argument("--binary", default=str(ROOT / "target/release/charmfuzz"))
    b.add_argument("--python", default=str(ROOT / ".venv/bin/python"), help="Python with ops[testing]")
    b.add_argument("--keep", help="keep the run JSON in this directory")
    b.add_argument("--allow-host-writes", action="store_true",
                   help="also run --containment none for charms that write host paths ([target] writable)")
    b.add_argument("--json-out", help="also write the raw results as JSON here")
    r = sub.add_parser("replay", help="replay traces through ops.testing (prints JSON)")
    r.add_argument("--charm", required=True)
    r.add_argument("traces", nargs="+")
    args = ap.parse_args(argv)
    return cmd_bench(args) if args.cmd == "bench" else cmd_replay(args)


if __name__ == "__main__":
    sys.exit(main())
