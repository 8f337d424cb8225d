"""Assert tests split in two: probes that run in the sandbox, a check that runs here.

An assert such as ``assert sorted(f([3, 1])) == [1, 3]`` is never run whole
in the sandbox, where the program could rewrite ``==``, read the expected
value from the harness's frames or exit early. Instead:

- each *probe*, a maximal subexpression rooted at a name of the program
  (``f([3, 1])``, ``Stack().push(1).top()``, ``RESULT``), is sent to the
  sandbox and evaluated there after the program; its value comes back as plain
  data (:mod:`rewardlab.verifiers.sandbox.values`): a value of a type with
  its own ``__eq__`` cannot come back at all;
- the rest of the assert (``sorted(·) == [1, 3]``), with its expected values,
  is evaluated here on those plain values by a small evaluator that knows
  literals, ``not``/``and``/``or``, comparisons (chained too), ``+ - * / //
  % **`` (sized), subscripts and slices, the builtins of
  :data:`PARENT_FUNCTIONS` and ``math.``:data:`PARENT_MATH`.

So ``assert add(1, 2) == 3`` sends ``add(1, 2)``; ``3`` stays here.
``abs(f(1.0) - 2.5) < 1e-6`` and ``math.isclose(area(5), 78.5,
rel_tol=1e-3)`` send ``f(1.0)`` and ``area(5)``. Rules, each refused with a
:class:`ValueError` naming the assert:

- the assert uses the program (has at least one probe);
- a probe is not rooted at a name bound by ``setup``: setup code runs in the
  sandbox, visible to the program, so an expected value or checker it defines
  would be in the program's reach (setup names may appear inside a probe, as
  inputs: ``f(data)``);
- no node the evaluator does not know (lambdas, comprehensions, f-strings,
  method calls on values outside a probe) outside the probes;
- the program does not define a function named like one of
  :data:`PARENT_FUNCTIONS` that the assert calls outside a probe (the assert
  would call the builtin).

Probes are all evaluated, left to right, before the check (``and``/``or``
do not skip a probe). An exception in a probe, in the check, or a probe whose
value cannot leave the sandbox fails the assert, as an exception in the
assert would.
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

PARENT_FUNCTIONS = (
    "abs", "all", "any", "bool", "bytes", "dict", "divmod", "float", "frozenset", "int",
    "isinstance", "len", "list", "max", "min", "round", "set", "sorted", "str", "sum", "tuple",
    "type",
)
"""Builtins an assert may call outside its probes (evaluated here, on plain values)."""

PARENT_MATH = ("isclose", "isfinite", "isinf", "isnan", "sqrt", "floor", "ceil", "fabs", "inf",
               "nan", "pi", "e")
"""``math`` names an assert may use outside its probes; ``isclose`` also works bare."""

MAX_SIZE = 10_000_000
"""Largest sequence (items) or integer (bits) the check may build from ``*`` or ``**``."""

_PARENT_NAMES = {name: getattr(builtins, name) for name in PARENT_FUNCTIONS}
_PARENT_NAMES["isclose"] = math.isclose
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_CHECK_ERRORS = (ArithmeticError, TypeError, ValueError, LookupError, RecursionError)


@dataclass(frozen=True)
class SplitAssert:
    """One assert: ``probes`` for the sandbox, and the check of their values (:meth:`passes`)."""

    source: str
    probes: tuple[str, ...]
    test: ast.expr

    def passes(self, values: Sequence[Any]) -> bool:
        """Whether the assert holds when its probes have ``values`` (plain data)."""
        try:
            return bool(_evaluate(self.test, values))
        except _CHECK_ERRORS:
            return False


def bound_names(source: str, what: str) -> set[str]:
    """Names bound at the top level of ``source`` (defs, classes, assignments, imports)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError) as err:
        raise ValueError(f"{what} does not parse: {err}") from None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.For | ast.With):
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                      and isinstance(n.ctx, ast.Store)}
    return names


def split_assert(
    source: str,
    setup_names: set[str] | frozenset[str] = frozenset(),
    program_names: set[str] | frozenset[str] = frozenset(),
) -> SplitAssert:
    """Split one ``assert`` statement (see the module docstring for the rules); the names
    that ``setup`` and the program bind come from :func:`bound_names`."""
    try:
        tree = ast.parse(source.strip())
    except SyntaxError as err:
        raise ValueError(f"assert {source!r} does not parse: {err.msg}") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        raise ValueError(f"{source!r} is not one assert statement")
    splitter = _Splitter(source, frozenset(setup_names), frozenset(program_names))
    test = splitter.split(tree.body[0].test)
    if not splitter.probes:
        raise ValueError(f"assert {source!r} does not use the program (no name of it appears)")
    return SplitAssert(source, tuple(splitter.probes), test)


def _is_parent_name(name: str) -> bool:
    return name in _PARENT_NAMES or name == "math"


def _root(node: ast.expr) -> str | None:
    """The name a Name/Attribute/Subscript/Call chain starts from, if it is one."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


class _Splitter:
    def __init__(
        self, source: str, setup_names: frozenset[str], program_names: frozenset[str]
    ) -> None:
        self.source, self.setup_names, self.program_names = source, setup_names, program_names
        self.probes: list[str] = []

    def refuse(self, why: str) -> ValueError:
        return ValueError(f"assert {self.source!r} cannot be checked outside the sandbox: {why}")

    def split(self, node: ast.expr) -> ast.expr:
        root = _root(node)
        if root is not None and not _is_parent_name(root):
            if root in self.setup_names:
                raise self.refuse(f"{ast.unparse(node)!r} is rooted at {root!r}, which setup "
                                  "defines; setup runs inside the sandbox, in the program's "
                                  "reach, so write the expected value in the assert")
            self.probes.append(ast.unparse(node))
            return ast.Name(id=f"#{len(self.probes) - 1}", ctx=ast.Load())
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, ast.Name):
            if node.id in self.program_names:
                raise self.refuse(f"it uses {node.id!r}, which the program defines; outside the "
                                  "sandbox that name is the builtin")
            return node
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "math" \
                    and node.attr in PARENT_MATH:
                return node
            raise self.refuse(f"{ast.unparse(node)!r} (only math.{', math.'.join(PARENT_MATH)})")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name | ast.Attribute) or any(
                isinstance(a, ast.Starred) for a in node.args
            ) or any(k.arg is None for k in node.keywords):
                raise self.refuse(f"the call {ast.unparse(node)!r}")
            func = self.split(node.func)
            args = [self.split(a) for a in node.args]
            keywords = [ast.keyword(k.arg, self.split(k.value)) for k in node.keywords]
            return ast.Call(func, args, keywords)
        return self._split_operators(node)

    def _split_operators(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            return ast.UnaryOp(node.op, self.split(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return ast.BinOp(self.split(node.left), node.op, self.split(node.right))
        if isinstance(node, ast.BoolOp):
            return ast.BoolOp(node.op, [self.split(v) for v in node.values])
        if isinstance(node, ast.Compare):
            return ast.Compare(self.split(node.left), node.ops,
                               [self.split(c) for c in node.comparators])
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                raise self.refuse(f"the unpacking in {ast.unparse(node)!r}")
            return type(node)(elts=[self.split(e) for e in node.elts], ctx=ast.Load())
        if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
            return ast.Dict([self.split(k) for k in node.keys if k is not None],
                            [self.split(v) for v in node.values])
        if isinstance(node, ast.Subscript):
            return ast.Subscript(self.split(node.value), self.split(node.slice), ast.Load())
        if isinstance(node, ast.Slice):
            parts = (node.lower, node.upper, node.step)
            return ast.Slice(*(None if p is None else self.split(p) for p in parts))
        raise self.refuse(f"{type(node).__name__} {ast.unparse(node)!r} is not supported there")


def _sized(op: type, left: Any, right: Any) -> None:
    """Refuse ``*`` and ``**`` results past :data:`MAX_SIZE` before building them."""
    if op is ast.Mult:
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(n, int):
                if len(seq) * n > MAX_SIZE:
                    raise OverflowError("sequence repetition too large")
    if op is ast.Pow and isinstance(left, int) and isinstance(right, int) and right > 0:
        if max(abs(left).bit_length(), 1) * right > MAX_SIZE:
            raise OverflowError("power too large")


def _evaluate(node: ast.expr, values: Sequence[Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[int(node.id[1:])] if node.id.startswith("#") else (
            math if node.id == "math" else _PARENT_NAMES[node.id])
    if isinstance(node, ast.Attribute):
        return getattr(math, node.attr)
    if isinstance(node, ast.Call):
        func = _evaluate(node.func, values)
        args = [_evaluate(a, values) for a in node.args]
        return func(*args, **{k.arg: _evaluate(k.value, values) for k in node.keywords})
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        _sized(type(node.op), left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.BoolOp):
        result = None
        for part in node.values:
            result = _evaluate(part, values)
            if bool(result) == isinstance(node.op, ast.Or):
                return result
        return result
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    return _evaluate_display(node, values)


def _evaluate_display(node: ast.expr, values: Sequence[Any]) -> Any:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        items = [_evaluate(e, values) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        return {_evaluate(k, values): _evaluate(v, values)
                for k, v in zip(node.keys, node.values, strict=True) if k is not None}
    if isinstance(node, ast.Subscript):
        return _evaluate(node.value, values)[_evaluate(node.slice, values)]
    if isinstance(node, ast.Slice):
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if p is None else _evaluate(p, values) for p in parts))
    raise TypeError(f"cannot evaluate {type(node).__name__}")
