"""The options core: fields with help and constraints, JSON objects checked by name, flags
generated from fields, one meaning per flag name, and options a component does not read refused."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import typer
from typer.testing import CliRunner

from rewardlab.cli.flags import refuse_unread, with_options
from rewardlab.options import OptionError, check, declared, from_mapping, option


@dataclass(frozen=True)
class Sampling:
    k: int = option(4, "candidates kept per prompt", min=1)
    temperature: float = option(1.0, "softmax temperature", min=0.0, open_min=True)
    seed: int = option(0, "random seed")


@dataclass(frozen=True)
class TopOne:
    seed: int = option(0, "random seed")


@dataclass(frozen=True)
class Weights:
    weights: tuple[float, ...] | None = option(
        None, "comma-separated weights",
        parse=lambda text: tuple(float(x) for x in text.split(",")),
    )


def test_check_names_the_flag_and_the_bound():
    assert check(Sampling(k=2)).k == 2
    with pytest.raises(OptionError, match=r"^--k: must be >= 1, got 0$"):
        check(Sampling(k=0))
    with pytest.raises(OptionError, match=r"^--temperature: must be > 0, got 0.0$"):
        check(Sampling(temperature=0.0))
    with pytest.raises(OptionError, match="--temperature: must be a finite number, got inf"):
        check(Sampling(temperature=float("inf")))
    with pytest.raises(OptionError, match="--k: must be int, got 2.5"):
        check(Sampling(k=2.5))


def test_a_json_object_is_checked_key_by_key():
    assert from_mapping(Sampling, {"k": 3, "temperature": 2}, "--params") == Sampling(3, 2)
    with pytest.raises(OptionError, match=r"--params: unknown option 'kk' \(known: k, "
                                          r"temperature, seed\)"):
        from_mapping(Sampling, {"kk": 3}, "--params")
    with pytest.raises(OptionError, match="option 'k' must be int, got True"):
        from_mapping(Sampling, {"k": True}, "--params")
    with pytest.raises(OptionError, match="option 'k': must be >= 1"):
        from_mapping(Sampling, {"k": 0}, "--params")
    assert declared(Sampling, None, TopOne) == {"k", "temperature", "seed"}


def _app(method_options: dict[str, type]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @with_options(sampling=Sampling, weights=Weights)
    def run(ctx: typer.Context, method: str = typer.Option("top1"), sampling: Sampling = None,
            weights: Weights = None) -> None:
        refuse_unread(ctx, Sampling, [method_options[method]], f"--method {method}")
        typer.echo(f"{method} {sampling} {weights.weights}")

    @app.command()
    def other() -> None:  # a second command, so typer keeps the subcommand name
        pass

    return app


def test_flags_come_from_the_fields_and_feed_the_instances():
    app = _app({"top1": TopOne, "topk": Sampling})
    runner = CliRunner()
    out = runner.invoke(app, ["run", "--method", "topk", "--k", "7", "--weights", "1,2.5"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "topk Sampling(k=7, temperature=1.0, seed=0) (1.0, 2.5)"
    help_text = runner.invoke(app, ["run", "--help"], terminal_width=200).output
    assert "candidates kept per prompt" in help_text and "softmax temperature" in help_text


def test_a_broken_bound_is_a_bad_option_before_the_command_runs():
    out = CliRunner().invoke(_app({"topk": Sampling}), ["run", "--method", "topk", "--k", "0"])
    assert out.exit_code == 2
    assert "--k" in out.output and "must be >= 1, got 0" in out.output


def test_an_option_the_component_does_not_read_is_refused():
    app = _app({"top1": TopOne, "topk": Sampling})
    out = CliRunner().invoke(app, ["run", "--method", "top1", "--k", "3"])
    assert out.exit_code == 2
    assert "--method top1 does not read --k" in out.output
    assert CliRunner().invoke(app, ["run", "--method", "top1", "--seed", "3"]).exit_code == 0


def test_one_name_two_meanings_is_refused_when_the_command_is_defined():
    @dataclass(frozen=True)
    class OtherSeed:
        seed: int = option(1, "another seed")

    with pytest.raises(TypeError, match="option 'seed' means different things"):
        with_options(a=Sampling, b=OtherSeed)


def test_a_registry_choice_accepts_its_aliases_and_lists_its_names_only():
    from rewardlab.registry import Registry

    readings: Registry[int] = Registry("reading")
    readings.add("mean-minus-std", 1, aliases=("mean_minus_std",))
    readings.add("mean", 2)

    @dataclass(frozen=True)
    class Reading:
        name: str = option("mean", "the reading", choices=lambda: readings, kind="reading")

    assert check(Reading("mean_minus_std")).name == "mean_minus_std"
    with pytest.raises(OptionError) as err:
        check(Reading("mean-minus-sd"))
    assert str(err.value) == ("--name: unknown reading 'mean-minus-sd'; did you mean "
                              "'mean-minus-std'? (known: mean, mean-minus-std)")
