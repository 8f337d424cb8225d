"""Every option of the commands that load a reward either changes what the command writes or
serves, or is refused as a bad option (exit 2) before the data is read.

The walk: each command (``score``, ``eval``, ``compare``, ``data strength``, ``serve``,
``bon``, ``forecast``) ×
each of its loading and reading options × each kind of spec (a model rewardlab trained,
one member and two; a Hugging Face classifier with three outputs; a judge; a transformer
fine-tuned by rewardlab; a verifier through ``--rewards``). What each kind reads is
written here by hand, apart from the declarations in :mod:`rewardlab.load.kinds`, so a
declaration that drifts fails. An option a kind does not read is given with a data path
that does not exist: the command must stop on the option (exit 2, one line naming it).
An option a kind reads must change the output against the same command without it —
except the three that cannot change a reward by design (``--device cpu`` on this
CPU-only machine, ``--token-budget``, ``--trust-remote-code`` on a model without
remote code): those must run, and :func:`test_options_that_cannot_change_a_reward_reach_the_model`
checks that they reach the loaded model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model_kinds import build_kinds, pairs_file, pool_file, rows_file, write_judge_templates
from rewardlab.cli.main import app

runner = CliRunner()
HUB = ["--max-length", "--dtype", "--device", "--token-budget", "--trust-remote-code",
       "--weights", "--chat-template"]
JUDGE = ["--judge-pairwise-template", "--judge-rating-template", "--judge-rating",
         "--judge-max-field-tokens"]
VALUES = {"--max-length": "8", "--dtype": "bf16", "--device": "cpu", "--token-budget": "7",
          "--trust-remote-code": None, "--weights": "1,0,-1", "--chat-template": "never",
          "--judge-rating": "yes-no", "--judge-max-field-tokens": "1", "--aggregate": "min",
          "--uncertainty": None, "--attributes": None, "--reference-column": "answer",
          "--unsafe-no-sandbox": None}
RUNS_UNCHANGED = {"--device", "--token-budget", "--trust-remote-code"}
TOKENIZER = {"--max-length", "--dtype", "--device", "--token-budget"}
BY_SCORE = {  # what each kind reads when the command uses its reward per response
    "head": set(),
    "head2": {"--aggregate", "--uncertainty"},
    "hf": set(HUB) | {"--aggregate", "--attributes"},
    "judge": TOKENIZER | {"--trust-remote-code", "--judge-rating-template", "--judge-rating",
                          "--judge-max-field-tokens"},
    "transformer": TOKENIZER | {"--attributes"},  # scored as a Hub classifier: its outputs
    "rewards": {"--reference-column"},  # the math verifier reads each row's reference
}
BY_PROB = {**BY_SCORE,  # eval on pairs compares a judge's two responses (prob)
           "judge": TOKENIZER | {"--trust-remote-code", "--judge-pairwise-template",
                                 "--judge-max-field-tokens"}}
SERVED = {**BY_SCORE, "judge": BY_SCORE["judge"] | BY_PROB["judge"]}  # /score and /compare
COMMAND_OPTIONS = {
    "score": HUB + JUDGE + ["--aggregate", "--uncertainty", "--attributes",
                            "--reference-column", "--unsafe-no-sandbox"],
    "eval": HUB + JUDGE + ["--aggregate", "--unsafe-no-sandbox"],
    "compare": HUB + JUDGE + ["--unsafe-no-sandbox"],
    "strength": HUB + JUDGE + ["--unsafe-no-sandbox"],
    "serve": HUB + JUDGE + ["--aggregate", "--unsafe-no-sandbox"],
    "bon": HUB + JUDGE + ["--aggregate", "--reference-column", "--unsafe-no-sandbox"],
    "forecast": HUB + JUDGE + ["--aggregate", "--reference-column", "--unsafe-no-sandbox"],
}
BY_POOL = {**{kind: reads - {"--attributes", "--uncertainty"} for kind, reads in BY_SCORE.items()},
           "judge": BY_PROB["judge"]}
"""bon and forecast score each candidate of a pool (build sft and pairs load it the same way,
:mod:`rewardlab.verbs.pools`); a judge alone ranks each pool by Copeland win rate (prob)."""
READS = {"score": BY_SCORE, "eval": BY_PROB, "compare": BY_SCORE, "strength": BY_SCORE,
         "serve": SERVED, "bon": BY_POOL, "forecast": BY_POOL}
POOL_FLAGS = {"bon": ["--gold-column", "gold"],
              "forecast": ["--gold-column", "gold", "--gold-budget", "4", "--bootstrap", "20"]}
KINDS = ["head", "head2", "hf", "judge", "transformer", "rewards"]
CASES = [(command, option, kind) for command, options in COMMAND_OPTIONS.items()
         for option in options for kind in KINDS]


pytestmark = pytest.mark.usefixtures("one_torch_thread", "hub_offline")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    specs = build_kinds(root)
    write_judge_templates(root)
    return {"specs": specs, "root": root, "pairs": pairs_file(root), "rows": rows_file(root),
            "pool": pool_file(root), "outputs": {}}


def value(option: str, world: dict) -> list[str]:
    if option == "--judge-pairwise-template":
        return [option, str(world["root"] / "pairwise.txt")]
    if option == "--judge-rating-template":
        return [option, str(world["root"] / "rating.txt")]
    return [option] if VALUES[option] is None else [option, VALUES[option]]


def source(command: str, kind: str, world: dict) -> list[str]:
    """The reward flags of ``command`` for ``kind`` (compare and strength take two)."""
    specs = world["specs"]
    if kind == "rewards":
        return {"score": ["--rewards", "math"], "serve": ["--rewards", "math"],
                "bon": ["--rewards", "math"], "forecast": ["--rewards", "math"],
                "compare": ["--model", specs["head"], "--rewards", "format"],
                "strength": ["--rewards", "format,repetition"]}.get(
            command, ["--rewards", "format"])
    spec = specs[kind]
    if command in ("compare", "strength"):
        spec = f"{spec},{specs['head']}"
    return ["--model", spec]


def run(command: str, kind: str, extra: list[str], world: dict, tmp: Path,
        data: Path | None = None) -> tuple[int, str, str]:
    """``(exit code, output lines, what the command wrote or served)``."""
    out = tmp / "out"
    if command == "serve":
        return serve(kind, extra, world)
    data = data or {"score": world["rows"], "bon": world["pool"],
                    "forecast": world["pool"]}.get(command, world["pairs"])
    name = {"strength": ["data", "strength"]}.get(command, [command])
    result = runner.invoke(app, [*name, *source(command, kind, world), "--data", str(data),
                                 "--out", str(out), *POOL_FLAGS.get(command, []), *extra])
    written = out.read_text() if out.exists() else ""
    if command in ("eval", "bon", "forecast") and written:  # the same results, whichever
        written = json.dumps(_without_run_facts(json.loads(written)))  # run wrote them
    return result.exit_code, result.output, written


def _without_run_facts(value: object) -> object:
    """A result without what differs run to run: the data path, timings."""
    if isinstance(value, dict):
        return {k: _without_run_facts(v) for k, v in value.items()
                if k != "data" and not k.endswith("seconds") and k != "timing"}
    if isinstance(value, list):
        return [_without_run_facts(v) for v in value]
    return value


def serve(kind: str, extra: list[str], world: dict) -> tuple[int, str, str]:
    from fastapi.testclient import TestClient

    import rewardlab.serve.runner as serve_runner
    from rewardlab.serve.app import create_app

    served: list = []
    original = serve_runner.run_server
    serve_runner.run_server = lambda model, settings, **kw: served.append((model, settings))
    try:
        result = runner.invoke(app, ["serve", *source("serve", kind, world), "--port", "0",
                                     *extra])
    finally:
        serve_runner.run_server = original
    if not served:
        return result.exit_code, result.output, ""
    ((model, settings),) = served
    body = {"prompts": ["what is the sky", "hello"], "responses": ["blue #### 0", "hi #### 4"],
            "ground_truth": ["0", "9"]}
    pairs = {"prompts": ["what is the sky"], "first": ["the sky is blue"], "second": ["no"]}
    with TestClient(create_app(model, settings)) as client:
        answers = [client.post("/score", json=body), client.post("/compare", json=pairs)]
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    return result.exit_code, result.output, json.dumps([a.json() for a in answers])


def baseline(command: str, kind: str, world: dict, tmp: Path) -> str:
    key = (command, kind)
    if key not in world["outputs"]:
        code, output, written = run(command, kind, [], world, tmp)
        assert code == 0, output
        world["outputs"][key] = written
    return world["outputs"][key]


def close(x: object, y: object) -> bool:
    """Whether two parsed outputs hold the same values, numbers to 1e-5 relative."""
    if isinstance(x, float) and isinstance(y, float):
        return x == pytest.approx(y, rel=1e-5, abs=1e-6)
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(close(u, v) for u, v in zip(x, y, strict=True))
    return x == y


def same(a: str, b: str) -> bool:
    """Whether two outputs (a JSON document or JSON lines) hold the same values, numbers to
    1e-5 relative."""
    def parsed(text: str) -> list:
        try:
            return [json.loads(text)]
        except json.JSONDecodeError:
            return [json.loads(line) for line in text.splitlines()]

    return close(parsed(a), parsed(b))


@pytest.mark.parametrize(("command", "option", "kind"), CASES,
                         ids=[f"{c} {o} {k}" for c, o, k in CASES])
def test_an_option_changes_the_output_or_is_refused_before_the_data(world, tmp_path, command,
                                                                    option, kind):
    if option in READS[command][kind]:
        code, output, written = run(command, kind, value(option, world), world, tmp_path)
        assert code == 0, output
        if command in POOL_FLAGS:  # bon and forecast read only the order of each prompt's
            walked = READS["eval" if kind == "judge" else "score"][kind]  # candidates, which
            assert option in walked  # an option may keep: it reaches the scores as `score`
            return  # (a judge's prob as `eval`) reads them (walked there), and runs here
        before = baseline(command, kind, world, tmp_path / "base")
        if option in RUNS_UNCHANGED:  # read (see the reach test): the same numbers, up to
            assert same(written, before)  # the float noise of other padding
        else:
            assert not same(written, before), f"{option} changed nothing for {kind}"
        return
    missing = tmp_path / "no-such-data.jsonl"
    code, output, written = run(command, kind, value(option, world), world, tmp_path, missing)
    assert code == 2, output
    (line,) = [x for x in output.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: Invalid value for '{option}': "), line
    assert "no-such-data" not in line and not written


def test_options_that_cannot_change_a_reward_reach_the_model(world):
    """``--device``, ``--token-budget`` and ``--trust-remote-code`` reach every kind that
    declares them: the loaded model carries the value (its options, or for a judge its
    Hugging Face options)."""
    from rewardlab.load import load
    from rewardlab.models.lm.hub import HubModelOptions

    hub = HubModelOptions(device="cpu", token_budget=7, trust_remote_code=True)
    for kind in ("hf", "judge"):
        model = load(model=world["specs"][kind], hub=hub)
        options = getattr(model, "options", None) if kind == "hf" else model.hub
        assert (options.device, options.token_budget, options.trust_remote_code) == (
            "cpu", 7, True)
    transformer = load(model=world["specs"]["transformer"],
                       hub=HubModelOptions(device="cpu", token_budget=7))
    assert transformer.options.token_budget == 7 and transformer.options.device == "cpu"


def test_a_judge_option_reaches_a_judge_in_a_comma_list(world):
    """With a comma list the ``--judge-*`` options used to be dropped: the judge member now
    scores with them (yes-no: P(Yes), in [0, 1], unlike the 1-10 rating)."""
    from rewardlab.load import load
    from rewardlab.models.lm.judge_options import JudgeOptions

    specs = f"{world['specs']['judge']},{world['specs']['head']}"
    prompts, responses = ["what is the sky"], ["the sky is blue"]
    scale = load(model=specs).members.score_members(prompts, responses)[0]
    yes_no = load(model=specs, judge=JudgeOptions(rating="yes-no")).members.score_members(
        prompts, responses)[0]
    assert 1 <= scale[0] <= 10 and 0 <= yes_no[0] <= 1
    alone = load(model=world["specs"]["judge"], judge=JudgeOptions(rating="yes-no"))
    assert yes_no[0] == pytest.approx(alone.score(prompts, responses)[0])


@pytest.mark.parametrize(("extra", "flag"), [
    (["--attack-budget", "16"], "--attack-budget"),
    (["--attack-epsilon", "0.1"], "--attack-epsilon"),
    (["--seed", "1"], "--seed"),
    (["--probes", "length", "--attack-budget", "16"], "--attack-budget"),
])
def test_a_probe_option_without_its_probe_is_refused_before_the_data(world, tmp_path, extra,
                                                                     flag):
    result = runner.invoke(app, ["eval", "--model", world["specs"]["head"], "--data",
                                 str(tmp_path / "no-such-data.jsonl"), "--out",
                                 str(tmp_path / "o.json"), *extra])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: Invalid value for '{flag}': read by ")


def test_probe_options_change_the_audit_or_are_refused_by_modality(world, tmp_path):
    """The query budget changes the text attack's report; ε, read by the pixel attack only,
    is refused once the pairs are seen to be text."""
    def audit(*extra: str) -> dict:
        out = tmp_path / "r.json"
        result = runner.invoke(app, ["eval", "--model", world["specs"]["head2"], "--data",
                                     str(world["pairs"]), "--out", str(out), "--probes",
                                     "attack", *extra])
        assert result.exit_code == 0, result.output
        return json.loads(out.read_text())["probes"]["attack"]

    assert audit()["budget"] == 128 and audit("--attack-budget", "32")["budget"] == 32
    result = runner.invoke(app, ["eval", "--model", world["specs"]["head2"], "--data",
                                 str(world["pairs"]), "--out", str(tmp_path / "e.json"),
                                 "--probes", "attack", "--attack-epsilon", "0.1"])
    assert result.exit_code == 2
    assert "'--attack-epsilon': not read by the attack on text responses" in result.output
    assert not (tmp_path / "e.json").exists()
