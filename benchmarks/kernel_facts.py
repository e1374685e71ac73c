"""What kernel facts add to fill-in-the-middle completion: the same tasks, the same model
and the same notebook context, with and without the facts the kernel knows.

Two task sets, each run in a REAL kernel (jupyter_client + ipykernel) so the facts are the
ones the magics and the Tab matcher would send:

1. ``csv``: small pandas notebooks whose DataFrames are read from CSV files made here, so
   the column names appear in no cell; each task completes a line that needs a column
   name (``orders["`` -> ``net_amount_eur"].mean()``), guided by a comment. Without the
   kernel the model can only guess.
2. ``bench``: the fim-dev tasks of ``../shared/bench`` on ``tools_pandas.ipynb`` and
   ``tools_numpy.ipynb``: the notebook's cells run in order in the kernel and, when a task's
   cell is reached, the facts are collected for the task's text (``prefix + suffix``), i.e.
   the kernel state of a user editing that cell after running the cells above it.

Completions come from ``Twin.complete`` (exactly what the inline completer inserts); the
only difference between the two runs is ``kernel_facts``. Scores as in the bench README:
exact match and edit similarity on stripped text; for ``csv`` also "names right": every
column name of the target appears in the completion's first line.

    .venv/bin/python benchmarks/kernel_facts.py            # both sets, the demo model
    .venv/bin/python benchmarks/kernel_facts.py --set csv --json out.json

Measured 2026-11-25, demo model (Qwen2.5-Coder-0.5B Q4_K_M, embedded), 2 shared cores under
load (so latencies are high and noisy; 1,747 s in all):

    set    facts    n   exact  edit sim  names right
    csv    without 20   0.050    0.749     0.050
    csv    with    20   0.550    0.879     0.750
    bench  without 15   0.200    0.550       -     (needs_context n=11: exact 0.091)
    bench  with    15   0.133    0.529       -     (needs_context n=11: exact 0.000)

Where the needed names live only in the kernel (csv), facts turn guesses into the real
column names. On the shared bench tasks the names are already in the neighbouring cells:
11 of 15 completions are identical, one exact match is lost (dev-0394), the other three
changed completions were wrong either way: no gain there at n=15.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"

# ------------------------------------------------------------------------ the csv set

DATASETS = {
    "orders": {
        "columns": {
            "order_ref": lambda i: f"A{1000 + i}",
            "cust_segment": lambda i: ["retail", "smb", "enterprise"][i % 3],
            "net_amount_eur": lambda i: round(20 + (i * 37) % 500 + 0.5, 2),
            "ship_days": lambda i: 1 + (i * 7) % 9,
            "channel": lambda i: ["web", "phone", "partner"][(i * 5) % 3],
        },
        "tasks": [
            ("# average net amount per order\navg_amount = orders[\"", 'net_amount_eur"].mean()'),
            ("# number of orders per sales channel\nper_channel = orders[\"", 'channel"].value_counts()'),
            ("# the orders that took longest to ship first\nslowest = orders.sort_values(\"", 'ship_days", ascending=False)'),
            ("# total net amount for each customer segment\nby_segment = orders.groupby(\"", 'cust_segment")["net_amount_eur"].sum()'),
        ],
    },
    "sensors": {
        "columns": {
            "sensor_uid": lambda i: f"s-{i % 12:02d}",
            "temp_c_avg": lambda i: round(15 + (i * 13) % 20 + 0.25, 2),
            "humidity_pct": lambda i: 30 + (i * 11) % 60,
            "battery_mv": lambda i: 2900 + (i * 17) % 400,
        },
        "tasks": [
            ("# highest average temperature seen\nmax_temp = sensors[\"", 'temp_c_avg"].max()'),
            ("# mean humidity per sensor\nhumid = sensors.groupby(\"", 'sensor_uid")["humidity_pct"].mean()'),
            ("# sensors whose battery is low\nlow = sensors[sensors[\"", 'battery_mv"] < 3000]'),
            ("# median humidity\nmed = sensors[\"", 'humidity_pct"].median()'),
        ],
    },
    "patients": {
        "columns": {
            "patient_key": lambda i: 50000 + i,
            "bmi_value": lambda i: round(18 + (i * 3) % 17 + 0.1, 1),
            "systolic_bp": lambda i: 105 + (i * 7) % 60,
            "smoker_flag": lambda i: i % 4 == 0,
            "clinic_site": lambda i: ["north", "south"][i % 2],
        },
        "tasks": [
            ("# average body mass index\nmean_bmi = patients[\"", 'bmi_value"].mean()'),
            ("# only the smokers\nsmokers = patients[patients[\"", 'smoker_flag"]]'),
            ("# blood pressure by clinic\nbp = patients.groupby(\"", 'clinic_site")["systolic_bp"].mean()'),
            ("# patients with high blood pressure\nhigh_bp = patients[patients[\"", 'systolic_bp"] > 140]'),
        ],
    },
    "flights": {
        "columns": {
            "flight_no": lambda i: f"TW{100 + i}",
            "carrier_code": lambda i: ["LH", "AF", "KL", "BA"][i % 4],
            "dep_delay_min": lambda i: (i * 19) % 95 - 10,
            "dist_km": lambda i: 300 + (i * 131) % 4000,
        },
        "tasks": [
            ("# mean departure delay\nmean_delay = flights[\"", 'dep_delay_min"].mean()'),
            ("# flights per carrier\nper_carrier = flights[\"", 'carrier_code"].value_counts()'),
            ("# the longest flights first\nlongest = flights.sort_values(\"", 'dist_km", ascending=False)'),
            ("# average delay of each carrier\ndelay_by_carrier = flights.groupby(\"", 'carrier_code")["dep_delay_min"].mean()'),
        ],
    },
    "staff": {
        "columns": {
            "emp_id": lambda i: 700 + i,
            "dept_name": lambda i: ["sales", "ops", "r&d", "hr"][i % 4],
            "base_salary_k": lambda i: 40 + (i * 9) % 70,
            "hire_year": lambda i: 2005 + (i * 3) % 19,
        },
        "tasks": [
            ("# total salary budget\nbudget = staff[\"", 'base_salary_k"].sum()'),
            ("# head count per department\nheads = staff[\"", 'dept_name"].value_counts()'),
            ("# people hired after 2020\nrecent = staff[staff[\"", 'hire_year"] > 2020]'),
            ("# mean salary per department\npay = staff.groupby(\"", 'dept_name")["base_salary_k"].mean()'),
        ],
    },
}


def make_csv_tasks(folder: Path) -> list[dict]:
    """Write the CSV files; one small notebook (list of cells) per task."""
    import csv

    tasks = []
    for name, spec in DATASETS.items():
        path = folder / f"{name}.csv"
        cols = list(spec["columns"])
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(cols)
            for i in range(60):
                writer.writerow([spec["columns"][c](i) for c in cols])
        setup = [
            {"cell_type": "markdown", "source": f"# {name.title()} report\nLoad the export and look at it."},
            {"cell_type": "code", "source": f"import pandas as pd\n\n{name} = pd.read_csv(DATA / \"{name}.csv\")"},
            {"cell_type": "code", "source": f"{name}.head()"},
        ]
        for k, (prefix, target) in enumerate(spec["tasks"]):
            tasks.append({
                "id": f"csv-{name}-{k}",
                "setup": setup,
                "prefix": prefix,
                "suffix": "",
                "target": target,
                "names": [c for c in cols if c in target],
            })
    return tasks


# ------------------------------------------------------------------------ kernel


class Kernel:
    """A real ipykernel through jupyter_client."""

    def __init__(self, cwd: Path) -> None:
        from jupyter_client import KernelManager

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["MPLBACKEND"] = "Agg"
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env, extra_arguments=["--HistoryManager.enabled=False"])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 120, expressions: dict | None = None) -> dict:
        msg_id = self.kc.execute(code, silent=False, store_history=True, user_expressions=expressions or {})
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.km.interrupt_kernel()
                raise TimeoutError(code[:80])
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        while True:  # drain iopub for this request
            try:
                msg = self.kc.get_iopub_msg(timeout=5)
            except queue.Empty:
                break
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" and \
                    msg["content"]["execution_state"] == "idle":
                break
        return reply["content"]

    def facts(self, code: str) -> list[dict]:
        expr = f"__import__('jupyter_twin.kernel.facts', fromlist=['_']).facts_json({code!r})"
        content = self.run("pass", expressions={"f": expr})
        value = content["user_expressions"]["f"]
        if value.get("status") != "ok":
            raise RuntimeError(f"facts failed: {value.get('ename')}: {value.get('evalue')}")
        return json.loads(value["data"]["text/plain"])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


# ------------------------------------------------------------------------ scoring


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def score(completion: str, task: dict) -> dict:
    got, want = _norm(completion), _norm(task["target"])
    first = completion.strip().split("\n", 1)[0] if completion.strip() else ""
    row = {
        "exact": got == want,
        "similarity": difflib.SequenceMatcher(None, got, want).ratio(),
    }
    if task.get("names"):
        row["names_right"] = all(n in first for n in task["names"])
    return row


def summarise(rows: list[dict]) -> dict:
    out = {"n": len(rows)}
    for key in ("exact", "similarity", "names_right"):
        vals = [r[key] for r in rows if key in r]
        if vals:
            out[key] = round(sum(vals) / len(vals), 3)
    lat = [r["latency"] for r in rows]
    if lat:
        out["latency_median"] = round(statistics.median(lat), 3)
    return out


def complete(twin, cells: list[dict], index: int, cursor: int, facts) -> tuple[str, float]:
    """One completion; a backend error counts as an empty completion (and is reported)."""
    from jupyter_twin.errors import TwinError

    started = time.monotonic()
    try:
        text = twin.complete(cells, index, cursor, kernel_facts=facts)
    except TwinError as exc:
        print(f"  backend error, scored as empty: {exc}", file=sys.stderr)
        text = ""
    return text, time.monotonic() - started


# ------------------------------------------------------------------------ the runs


def run_csv(twin, limit: int | None, verbose: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="twin-facts-") as tmp:
        folder = Path(tmp)
        tasks = make_csv_tasks(folder)[:limit]
        kernel = Kernel(folder)
        rows = {"without": [], "with": []}
        try:
            kernel.run(f"from pathlib import Path\nDATA = Path({str(folder)!r})")
            done_setup: set[str] = set()
            for task in tasks:
                key = task["setup"][1]["source"]
                if key not in done_setup:
                    for cell in task["setup"]:
                        if cell["cell_type"] == "code":
                            kernel.run(cell["source"])
                    done_setup.add(key)
                code = task["prefix"] + task["suffix"]
                facts = kernel.facts(code)
                cells = [dict(c) for c in task["setup"]] + [{"cell_type": "code", "source": code}]
                index = len(cells) - 1
                for mode, f in (("without", None), ("with", facts)):
                    text, latency = complete(twin, cells, index, len(task["prefix"]), f)
                    row = score(text, task) | {"id": task["id"], "latency": latency, "completion": text}
                    rows[mode].append(row)
                    if verbose:
                        print(f"{task['id']:<18} {mode:<8} {'OK ' if row['exact'] else '   '}{text!r}", file=sys.stderr)
        finally:
            kernel.close()
    return {mode: summarise(r) for mode, r in rows.items()} | {"rows": rows}


def run_bench(twin, limit: int | None, verbose: bool,
              notebooks=("tools_pandas.ipynb", "tools_numpy.ipynb")) -> dict:
    all_tasks = [json.loads(line) for line in open(BENCH / "fim-dev.jsonl", encoding="utf-8")]
    rows = {"without": [], "with": []}
    used = 0
    for name in notebooks:
        tasks = [t for t in all_tasks if t["notebook"] == name]
        if limit is not None:
            tasks = tasks[: max(0, limit - used)]
        if not tasks:
            continue
        used += len(tasks)
        nb = json.load(open(BENCH / "notebooks" / name, encoding="utf-8"))
        cells = [{"cell_type": c["cell_type"], "source": "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
                  "outputs": c.get("outputs", [])} for c in nb["cells"]]
        with tempfile.TemporaryDirectory(prefix="twin-bench-") as tmp:
            kernel = Kernel(Path(tmp))
            try:
                by_cell: dict[int, list[dict]] = {}
                for t in tasks:
                    by_cell.setdefault(t["cell"], []).append(t)
                last = max(by_cell)
                for i, cell in enumerate(cells[: last + 1]):
                    for task in by_cell.get(i, []):
                        code = task["prefix"] + task["suffix"]
                        facts = kernel.facts(code)
                        ctx = [dict(c) for c in cells]
                        ctx[i] = dict(ctx[i], source=code, outputs=[])
                        for mode, f in (("without", None), ("with", facts)):
                            text, latency = complete(twin, ctx, i, len(task["prefix"]), f)
                            row = score(text, task) | {"id": task["id"], "latency": latency,
                                                       "needs_context": task["needs_context"], "completion": text,
                                                       "facts": len(facts)}
                            rows[mode].append(row)
                            if verbose:
                                print(f"{task['id']:<10} {mode:<8} {'OK ' if row['exact'] else '   '}{text!r}", file=sys.stderr)
                    if cell["cell_type"] == "code" and i < last:
                        source = cell["source"]
                        if source.lstrip().startswith(("%", "!")) or "plt.show" in source and False:
                            continue
                        try:
                            kernel.run(source, timeout=60)
                        except TimeoutError:
                            pass
            finally:
                kernel.close()
    return {mode: summarise(r) for mode, r in rows.items()} | {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("csv", "bench", "all"), default="all")
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--model", default=None, help="model (default: the demo model for embedded)")
    parser.add_argument("--host", default=None)
    parser.add_argument("--limit", type=int, default=None, help="at most this many tasks per set")
    parser.add_argument("--json", default=None, help="write all rows to this file")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per completion at most")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from jupyter_twin import Twin

    model = args.model
    if model is None and args.backend == "embedded":
        from jupyter_twin.modelfiles import demo_model_path

        model = str(demo_model_path())
    # a shared, busy machine can be slow: a generous timeout keeps every task scored
    twin = Twin(backend=args.backend, model=model, host=args.host, request_timeout=args.timeout,
                first_token_timeout=args.timeout)
    results = {}
    started = time.monotonic()
    try:
        if args.set in ("csv", "all"):
            results["csv"] = run_csv(twin, args.limit, args.verbose)
        if args.set in ("bench", "all"):
            results["bench"] = run_bench(twin, args.limit, args.verbose)
    finally:
        twin.close()
    print(f"kernel facts benchmark: backend {args.backend}, model {Path(model).name if model else '(default)'}, "
          f"{time.monotonic() - started:.0f} s")
    print(f"{'set':<8} {'facts':<8} {'n':>4} {'exact':>7} {'edit sim':>9} {'names':>7} {'median s':>9}")
    for name, res in results.items():
        for mode in ("without", "with"):
            s = res[mode]
            names = f"{s['names_right']:.3f}" if "names_right" in s else "-"
            print(f"{name:<8} {mode:<8} {s['n']:>4} {s.get('exact', 0):>7.3f} {s.get('similarity', 0):>9.3f} "
                  f"{names:>7} {s.get('latency_median', 0):>9.3f}")
    if "bench" in results:
        for mode in ("without", "with"):
            nc = [r for r in results["bench"]["rows"][mode] if r.get("needs_context")]
            if nc:
                print(f"bench    {mode:<8} needs_context n={len(nc)} exact "
                      f"{sum(r['exact'] for r in nc) / len(nc):.3f} edit sim "
                      f"{sum(r['similarity'] for r in nc) / len(nc):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
