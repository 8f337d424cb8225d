"""Overoptimization forecasts checked on the lab, where the realized peak is known.

For every lab setting (:func:`rewardlab.lab.forecast.validation.lab_readings`):

- synthetic arena (``--n-prompts`` prompts, ``--test-prompts`` of them held out
  with ``--pool-size`` fresh candidates each): hashing proxies of each
  ``--proxy-sizes`` × ``--noises``, ensembles of ``--ensemble``, read as
  ``single``, ``mean``, ``wco`` and ``uwo`` (λ = 0.5);
- AlpacaEval (``--data``; the lab's split: 20% of the 805 instructions held
  out, all their real candidates, gold = the GPT-4-turbo judge's preference):
  hashing proxies of each ``--ae-proxy-sizes`` at noise ``--ae-noises``, the
  same four readings;
- AlpacaEval, all 805 instructions, proxy = the response's word count
  (``alpaca-eval-length``; not a lab proxy: a real hack with no training);

the realized peak n* is the first argmax, over the quarter-octave grid of n
(n_k = round(2^{k/4}) up to the smallest pool), of the unbiased best-of-n gold
averaged over every test prompt; when that argmax is the largest n, gold never
fell within the pool's reach and n* is censored there. Then ``--subsets``
times, ``--budget`` test prompts are drawn without replacement and each
forecast method sees only their gold (``--bootstrap`` replicates over prompts,
intervals at ``--level``). Scores (``validation.score``; peaks clipped to the
reach, so a censored truth or forecast counts as the reach): the forecast n̂
within a factor 2 of n*, n* inside the interval, and the yes/no "does gold
fall before n = ``--falls-before``?" right (strictly, and with a fall of more
than ``--tolerance`` of the peak gain).

Writes JSON (``--out``: command, machine, timing, every setting's realized
curve and trials, the summary) and prints a table.

Usage::

    PYTHONPATH=src python benchmarks/forecast.py --out forecast.json
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import rewardlab
from rewardlab.atomic import write_json_atomic
from rewardlab.lab.forecast.validation import (
    LabReading,
    evaluate_reading,
    lab_readings,
    length_reading,
    summarize,
)
from rewardlab.lab.overopt.experiment import OveroptConfig
from rewardlab.lab.overopt.pools import SyntheticPoolConfig

DEFAULT_DATA = "../shared/data/alpaca-eval"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="results JSON")
    parser.add_argument("--sources", default="synthetic,alpaca-eval,alpaca-eval-length",
                        help="a comma list of synthetic, alpaca-eval, alpaca-eval-length")
    parser.add_argument("--data", default=DEFAULT_DATA, help="AlpacaEval folder")
    parser.add_argument("--subsets", type=int, default=20, help="label subsets per setting")
    parser.add_argument("--budget", type=int, default=100, help="labelled prompts per subset")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates")
    parser.add_argument("--level", type=float, default=0.8, help="interval level")
    parser.add_argument("--falls-before", type=float, default=64.0,
                        help="n of the yes/no question")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="share of the peak gain a 'material' fall loses")
    parser.add_argument("--seed", type=int, default=0, help="seed of the lab and the subsets")
    parser.add_argument("--n-prompts", type=int, default=1600, help="synthetic arena prompts")
    parser.add_argument("--test-prompts", type=int, default=400, help="synthetic test prompts")
    parser.add_argument("--pool-size", type=int, default=256,
                        help="synthetic candidates per test prompt")
    parser.add_argument("--proxy-sizes", type=_ints, default=(1000, 4000),
                        help="synthetic proxy training pairs, a comma list")
    parser.add_argument("--noises", type=_floats, default=(0.0, 0.25),
                        help="synthetic label-flip rates, a comma list")
    parser.add_argument("--ae-proxy-sizes", type=_ints, default=(500, 2000, 4000),
                        help="AlpacaEval proxy training pairs, a comma list")
    parser.add_argument("--ae-noises", type=_floats, default=(0.25,),
                        help="AlpacaEval label-flip rates, a comma list")
    parser.add_argument("--ensemble", type=int, default=5, help="members per proxy")
    parser.add_argument("--epochs", type=int, default=40, help="proxy training epochs")
    return parser


def sources(args: argparse.Namespace) -> list[Callable[[], Iterable[LabReading]]]:
    """The readings of each source, produced when called (lab sources train proxies)."""
    out: list[Callable[[], Iterable[LabReading]]] = []
    for config in lab_configs(args):
        out.append(lambda config=config: lab_readings(config))
    if "alpaca-eval-length" in _names(args.sources):
        out.append(lambda: [length_reading(args.data)])
    return out


def _names(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    for name in names:
        if name not in ("synthetic", "alpaca-eval", "alpaca-eval-length"):
            raise SystemExit(f"--sources: unknown source {name!r}")
    return names


def lab_configs(args: argparse.Namespace) -> list[OveroptConfig]:
    """One lab configuration per lab source."""
    configs = []
    for source in _names(args.sources):
        if source == "synthetic":
            configs.append(OveroptConfig(
                proxy_sizes=args.proxy_sizes, noises=args.noises, ensemble=args.ensemble,
                epochs=args.epochs, seed=args.seed,
                synthetic=SyntheticPoolConfig(n_prompts=args.n_prompts,
                                              test_prompts=args.test_prompts,
                                              pool_size=args.pool_size),
            ))
        elif source == "alpaca-eval":
            configs.append(OveroptConfig(
                pool="alpaca-eval", data=args.data, proxy_sizes=args.ae_proxy_sizes,
                noises=args.ae_noises, ensemble=args.ensemble, epochs=args.epochs,
                seed=args.seed,
            ))
    return configs


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "python": sys.version.split()[0],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def _row(name: str, stats: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "   –  " if value is None else f"{100 * value:5.1f}%"

    return (f"{name:<22} {stats['trials']:>6}  {pct(stats['within_factor'])}  "
            f"{pct(stats['covered'])}  {pct(stats['falls_correct'])}  "
            f"{pct(stats['falls_material_correct'])}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "forecast",
        "command": "python benchmarks/forecast.py " + shlex.join(argv or sys.argv[1:]),
        "rewardlab_version": rewardlab.__version__,
        "machine": machine(),
        "settings": [],
    }
    lab_seconds = forecast_seconds = 0.0
    for readings in sources(args):
        tick = time.perf_counter()
        for reading in readings():
            lab_seconds += time.perf_counter() - tick
            tick = time.perf_counter()
            outcome = evaluate_reading(
                reading.pools, args.budget, args.subsets, args.bootstrap, args.level,
                args.seed, args.falls_before, args.tolerance,
            )
            forecast_seconds += time.perf_counter() - tick
            setting = {**reading.key(), **outcome}
            result["settings"].append(setting)
            real = outcome["realized"]
            peaks = {name: sorted(t["peak"] for t in trials if "peak" in t)
                     for name, trials in outcome["trials"].items()}
            medians = ", ".join(f"{name} median {p[len(p) // 2]:.0f}" for name, p in
                                peaks.items() if p)
            print(f"{reading.source:<11} m={reading.proxy_size:<5} ε={reading.noise:<4} "
                  f"{reading.aggregate:<6} n*={real['peak']:.0f}"
                  f"{' (censored)' if real['censored'] else ''}  {medians}", flush=True)
            tick = time.perf_counter()
        lab_seconds += time.perf_counter() - tick
    result["summary"] = summarize(result["settings"])
    result["timing"] = {"lab_seconds": lab_seconds, "forecast_seconds": forecast_seconds,
                        "total_seconds": time.perf_counter() - started}
    result["machine"]["load_average_end"] = list(os.getloadavg())
    write_json_atomic(args.out, result)
    print(f"\n{'method / realized n*':<22} {'trials':>6}  {'×2':>6}  {'cover':>6}  "
          f"{'falls':>6}  {'falls>' + str(args.tolerance):>6}")
    for name, groups in result["summary"].items():
        for group in ("all", "interior", "censored"):
            if groups[group]["trials"]:
                print(_row(f"{name} / {group}", groups[group]))
    print(f"wrote {args.out} in {result['timing']['total_seconds']:.0f} s")
    return result


if __name__ == "__main__":
    main()
