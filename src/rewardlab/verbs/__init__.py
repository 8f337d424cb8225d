"""Library verbs: one function per ``rewardlab`` command, each taking a spec dataclass and
returning a result object. The CLI only parses flags into the spec, calls the verb and
prints; a library user calls the same verb::

    from rewardlab.verbs import TrainSpec, train
    result = train(TrainSpec(data="pairs.jsonl", out="runs/rm", backbone="hashing"))
"""

from rewardlab.verbs.train import TrainResult, TrainSpec, train

__all__ = ["TrainResult", "TrainSpec", "train"]
