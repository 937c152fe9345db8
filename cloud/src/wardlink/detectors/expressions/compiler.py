"""Compile a syntax tree into nested Python closures, cached per source string.

A detector model has a few dozen expressions and evaluates them on every input,
so each expression is parsed once and turned into closures that do no dispatch
on node types at run time. ``compile_expression`` is memoized on the source
text, which also makes identical conditions across models share one closure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wardlink.detectors.expressions.context import EvalContext
from wardlink.detectors.expressions.errors import ExpressionError
from wardlink.detectors.expressions.functions import (
    CONVERT_TYPES,
    PURE_FUNCTIONS,
    UNDEFINED_AWARE,
    convert,
)
from wardlink.detectors.expressions.nodes import (
    Binary,
    Call,
    InputRef,
    Literal,
    Name,
    Node,
    PathSegment,
    Template,
    Unary,
    VariableRef,
)
from wardlink.detectors.expressions.operators import BINARY, UNARY
from wardlink.detectors.expressions.parser import parse, parse_template_text
from wardlink.detectors.expressions.values import UNDEFINED, to_text

Evaluator = Callable[[EvalContext], Any]
CONTEXT_FUNCTIONS = ("timeout", "currentInput", "triggerType", "convert")
KNOWN_FUNCTIONS = tuple(sorted((*PURE_FUNCTIONS, *CONTEXT_FUNCTIONS)))


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """An expression ready to evaluate, plus what it refers to (for routing and checks)."""

    source: str
    evaluate: Evaluator
    inputs: frozenset[str]
    input_paths: frozenset[tuple[str, tuple[PathSegment, ...]]]
    variables: frozenset[str]
    timers: frozenset[str]

    def __call__(self, context: EvalContext) -> Any:
        return self.evaluate(context)


@functools.lru_cache(maxsize=8192)
def compile_expression(source: str) -> CompiledExpression:
    """Parse and compile an expression; raises ``ExpressionError`` on bad syntax."""
    return _compile_tree(source, parse(source))


@functools.lru_cache(maxsize=2048)
def compile_template_text(source: str) -> CompiledExpression:
    """Compile bare text with ``${...}`` substitutions (action fields like mqttTopic)."""
    return _compile_tree(source, parse_template_text(source))


def _compile_tree(source: str, tree: Node) -> CompiledExpression:
    compiler = _Compiler(source)
    fn = compiler.compile(tree)
    refs = compiler.references
    return CompiledExpression(
        source=source,
        evaluate=fn,
        inputs=frozenset(refs.inputs),
        input_paths=frozenset(refs.input_paths),
        variables=frozenset(refs.variables),
        timers=frozenset(refs.timers),
    )


@dataclass
class _References:
    inputs: set[str] = field(default_factory=set)
    input_paths: set[tuple[str, tuple[PathSegment, ...]]] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)
    timers: set[str] = field(default_factory=set)


class _Compiler:
    def __init__(self, source: str) -> None:
        self.source = source
        self.references = _References()

    def error(self, message: str, position: int = 0) -> ExpressionError:
        return ExpressionError(message, self.source, position)

    def compile(self, node: Node) -> Evaluator:
        if isinstance(node, Literal):
            return _constant(node.value)
        if isinstance(node, InputRef):
            self.references.inputs.add(node.input_name)
            self.references.input_paths.add((node.input_name, node.path))
            return _input_reference(node.input_name, node.path)
        if isinstance(node, VariableRef):
            self.references.variables.add(node.name)
            return _variable_reference(node.name)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Template):
            return self.template(node)
        if isinstance(node, Name):
            raise self.error(
                f"unknown identifier {node.name!r}; quote strings ('text'), "
                "reference data as $input.Input.field or $variable.name",
                node.position,
            )
        raise self.error(f"cannot compile {type(node).__name__}")  # pragma: no cover

    def unary(self, node: Unary) -> Evaluator:
        fn = UNARY[node.operator]
        operand = self.compile(node.operand)
        if isinstance(node.operand, Literal):
            return _constant(fn(node.operand.value))
        return lambda ctx: fn(operand(ctx))

    def binary(self, node: Binary) -> Evaluator:
        if node.operator in ("||", "&&"):
            operands = tuple(self.compile(part) for part in _chain(node, node.operator))
            return _logical_or(operands) if node.operator == "||" else _logical_and(operands)
        left = self.compile(node.left)
        right = self.compile(node.right)
        fn = BINARY[node.operator]
        if isinstance(node.left, Literal) and isinstance(node.right, Literal):
            return _constant(fn(node.left.value, node.right.value))
        if isinstance(node.right, Literal):
            constant = node.right.value
            fast = _compare_with_number(node.operator, left, constant)
            if fast is not None:
                return fast
            return lambda ctx: fn(left(ctx), constant)
        return lambda ctx: fn(left(ctx), right(ctx))

    def template(self, node: Template) -> Evaluator:
        parts: list[str | Evaluator] = [
            part if isinstance(part, str) else self.compile(part) for part in node.parts
        ]
        if all(isinstance(part, str) for part in parts):
            return _constant("".join(str(part) for part in parts))

        def render(ctx: EvalContext) -> Any:
            out: list[str] = []
            for part in parts:
                if isinstance(part, str):
                    out.append(part)
                    continue
                text = to_text(part(ctx))
                if text is None:
                    return UNDEFINED
                out.append(text)
            return "".join(out)

        return render

    def call(self, node: Call) -> Evaluator:
        name, args = node.function, node.arguments
        if name == "convert":
            return self.convert(node)
        if name in ("timeout", "currentInput", "triggerType"):
            self.check_arity(node, 1)
            return self.context_function(name, args[0])
        spec = PURE_FUNCTIONS.get(name)
        if spec is None:
            hint = next((known for known in KNOWN_FUNCTIONS if known.lower() == name.lower()), None)
            suggestion = (
                f"; did you mean {hint}?" if hint else f"; known: {', '.join(KNOWN_FUNCTIONS)}"
            )
            raise self.error(f"unknown function {name!r}{suggestion}", node.position)
        arity, fn = spec
        self.check_arity(node, arity)
        compiled = [self.compile(arg) for arg in args]
        if name in UNDEFINED_AWARE:
            only = compiled[0]
            return lambda ctx: fn(only(ctx))
        if arity == 1:
            only = compiled[0]

            def call1(ctx: EvalContext) -> Any:
                value = only(ctx)
                return UNDEFINED if value is UNDEFINED else fn(value)

            return call1
        first, second = compiled

        def call2(ctx: EvalContext) -> Any:
            a = first(ctx)
            if a is UNDEFINED:
                return UNDEFINED
            b = second(ctx)
            if b is UNDEFINED:
                return UNDEFINED
            return fn(a, b)

        return call2

    def check_arity(self, node: Call, arity: int) -> None:
        if len(node.arguments) != arity:
            plural = "s" if arity != 1 else ""
            raise self.error(
                f"{node.function}() takes {arity} argument{plural}, got {len(node.arguments)}",
                node.position,
            )

    def context_function(self, name: str, arg: Node) -> Evaluator:
        if isinstance(arg, Literal) and type(arg.value) is str:
            literal = arg.value
            if name == "timeout":
                self.references.timers.add(literal)
                return lambda ctx: ctx.timer_probe(literal)
            if name == "currentInput":
                self.references.inputs.add(literal)
                return lambda ctx: ctx.current_input == literal
            wanted = literal.lower()
            if wanted not in ("message", "timer"):
                raise self.error(f'triggerType() takes "Message" or "Timer", not {literal!r}')
            return lambda ctx: ctx.trigger_type.lower() == wanted
        compiled = self.compile(arg)

        def dynamic(ctx: EvalContext) -> Any:
            value = compiled(ctx)
            if type(value) is not str:
                return UNDEFINED
            if name == "timeout":
                return ctx.timer_probe(value)
            if name == "currentInput":
                return ctx.current_input == value
            return ctx.trigger_type.lower() == value.lower()

        return dynamic

    def convert(self, node: Call) -> Evaluator:
        self.check_arity(node, 2)
        type_arg, value_arg = node.arguments
        value = self.compile(value_arg)
        if isinstance(type_arg, Name):
            if type_arg.name not in CONVERT_TYPES:
                raise self.error(
                    f"convert() type must be one of {', '.join(CONVERT_TYPES)}, "
                    f"not {type_arg.name!r}",
                    type_arg.position,
                )
            target = type_arg.name
            return lambda ctx: convert(target, value(ctx))
        target_fn = self.compile(type_arg)
        return lambda ctx: convert(target_fn(ctx), value(ctx))


_NUMBER_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _compare_with_number(operator: str, left: Evaluator, constant: Any) -> Evaluator | None:
    """Specialize ``x < 40``-style comparisons, the bulk of threshold models.

    Same result as the generic operator (numbers compare, anything else is
    UNDEFINED), one Python call less per evaluation.
    """
    if type(constant) not in (int, float) or operator not in _NUMBER_COMPARISONS:
        return None
    if operator == "<":

        def less(ctx: EvalContext) -> Any:
            a = left(ctx)
            kind = type(a)
            return a < constant if kind is int or kind is float else UNDEFINED

        return less
    if operator == ">":

        def greater(ctx: EvalContext) -> Any:
            a = left(ctx)
            kind = type(a)
            return a > constant if kind is int or kind is float else UNDEFINED

        return greater
    compare = _NUMBER_COMPARISONS[operator]

    def other(ctx: EvalContext) -> Any:
        a = left(ctx)
        kind = type(a)
        return compare(a, constant) if kind is int or kind is float else UNDEFINED

    return other


def _constant(value: Any) -> Evaluator:
    return lambda ctx: value


def _variable_reference(name: str) -> Evaluator:
    def read(ctx: EvalContext) -> Any:
        return ctx.variables.get(name, UNDEFINED)

    return read


def _input_reference(input_name: str, path: tuple[PathSegment, ...]) -> Evaluator:
    """Walk ``$input.Name.a.b[0]``: a missing field or index is UNDEFINED, JSON null is None."""
    if not path:
        return lambda ctx: ctx.inputs.get(input_name, UNDEFINED)
    if len(path) == 1 and isinstance(path[0], str):
        key = path[0]

        def read_field(ctx: EvalContext) -> Any:
            payload = ctx.inputs.get(input_name)
            if type(payload) is dict:
                return payload.get(key, UNDEFINED)
            return UNDEFINED

        return read_field

    def read_path(ctx: EvalContext) -> Any:
        value: Any = ctx.inputs.get(input_name, UNDEFINED)
        for segment in path:
            if type(segment) is str:
                if type(value) is not dict:
                    return UNDEFINED
                value = value.get(segment, UNDEFINED)
            else:
                if type(value) is not list or not 0 <= int(segment) < len(value):
                    return UNDEFINED
                value = value[int(segment)]
        return value

    return read_path


def _chain(node: Node, operator: str) -> list[Node]:
    """Operands of a left-associative chain ``a && b && c`` (one closure instead of two)."""
    if isinstance(node, Binary) and node.operator == operator:
        return [*_chain(node.left, operator), *_chain(node.right, operator)]
    return [node]


def _logical_or(operands: tuple[Evaluator, ...]) -> Evaluator:
    """``||``: true as soon as an operand is true. Undefined operands count as false
    (documented); a non-Boolean operand makes the result undefined unless one is true."""

    def either(ctx: EvalContext) -> Any:
        invalid = False
        for operand in operands:
            value = operand(ctx)
            if value is True:
                return True
            if value is not False and value is not UNDEFINED:
                invalid = True
        return UNDEFINED if invalid else False

    return either


def _logical_and(operands: tuple[Evaluator, ...]) -> Evaluator:
    """``&&``: false at the first false operand; an undefined or non-Boolean operand
    before that makes the result undefined."""

    def both(ctx: EvalContext) -> Any:
        for operand in operands:
            value = operand(ctx)
            if value is not True:
                return False if value is False else UNDEFINED
        return True

    return both
