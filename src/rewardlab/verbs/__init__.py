"""Library verbs: one function per ``rewardlab`` command, each taking a spec dataclass and
returning a result object. The CLI only parses flags into the spec, calls the verb and
prints; a library user calls the same verb::

    from rewardlab.verbs import EvalSpec, TrainSpec, evaluate, train
    train(TrainSpec(data="pairs.jsonl", out=Path("runs/rm"), backbone="hashing"))
    evaluate(EvalSpec(model="runs/rm", data="test.jsonl", out=Path("eval.json")))

The verbs import their work lazily, so importing a spec is cheap (the CLI reads
the specs' fields to make its flags).
"""

from rewardlab.verbs.compare import CompareResult, CompareSpec, compare
from rewardlab.verbs.evaluate import EvalResult, EvalSpec, evaluate
from rewardlab.verbs.loading import RewardSource, load_source
from rewardlab.verbs.score import ScoreResult, ScoreSpec, score
from rewardlab.verbs.serve import Served, ServeSpec, serve, server_app
from rewardlab.verbs.strength import StrengthResult, StrengthSpec, strength
from rewardlab.verbs.train import TrainResult, TrainSpec, train

__all__ = [
    "CompareResult",
    "CompareSpec",
    "EvalResult",
    "EvalSpec",
    "RewardSource",
    "ScoreResult",
    "ScoreSpec",
    "Served",
    "ServeSpec",
    "StrengthResult",
    "StrengthSpec",
    "TrainResult",
    "TrainSpec",
    "compare",
    "evaluate",
    "load_source",
    "score",
    "serve",
    "server_app",
    "strength",
    "train",
]
