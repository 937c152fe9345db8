"""The expression language: every operator and function, precedence, templates, undefined data.

Expected values come from the IoT Events developer guide where it gives them
(e.g. ``13 | 5 -> 13``, ``~13 -> -14``, the Fahrenheit template) and from
docs/detectors.md where semantics had to be inferred.
"""

from __future__ import annotations

from typing import Any

import pytest

from wardlink.detectors.expressions import (
    UNDEFINED,
    EvalContext,
    ExpressionError,
    compile_expression,
    compile_template_text,
)


def ev(source: str, **context: Any) -> Any:
    return compile_expression(source)(EvalContext(**context))


MESSAGE = EvalContext(
    variables={"n": 3, "d": 2.5, "s": "offline", "b": True, "SensorID": 10},
    inputs={
        "MyInput": {
            "a": None,
            "status": "offline",
            "value1": 13,
            "value2": 5,
            "temperatures": [78.4, 77.9, 78.8],
            "sensorData": {"pressure": 80, "motor pressure": 56},
            "_value": 7,
            "items": [{"code": "E1"}],
        },
        "GreenhouseInput": {"temperature": 10.01, "sensors": [{"sensor1": "Sensor_1"}]},
    },
    current_input="MyInput",
    trigger_type="Message",
)


def run(source: str) -> Any:
    return compile_expression(source)(MESSAGE)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # literals
        ("42", 42),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        ("'hello'", "hello"),
        ('"hello"', "hello"),
        ("true", True),
        ("false", False),
        # arithmetic; integer division rounds, decimal division does not
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("7 / 2", 4),
        ("-7 / 2", -4),
        ("6 / 4", 2),
        ("5 / 4", 1),
        ("7.0 / 2", 3.5),
        ("7 / 2.0", 3.5),
        ("2.5 * 2", 5.0),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("7.5 % 2", 1.5),
        ("-$variable.n", -3),
        ("- -3", 3),
        # strings
        ("'my' + 'string'", "mystring"),
        # bitwise operators, with the guide's examples
        ("13 | 5", 13),
        ("13 & 5", 5),
        ("13 ^ 5", 8),
        ("~13", -14),
        # comparisons
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 == 3.0", True),
        ("3 != 4", True),
        ("2 >= 3", False),
        ("2 > 1.5", True),
        ("'abc' < 'abd'", True),
        ("'a' == 'a'", True),
        ("true == true", True),
        ("true != false", True),
        # logic
        ("true && false", False),
        ("true || false", True),
        ("!true", False),
        ("!false && true", True),
        # precedence: && binds tighter than ||; comparison tighter than &&; & tighter than ==
        ("true || false && false", True),
        ("1 + 1 == 2 && 2 * 2 == 4", True),
        ("(6 & 3) == 2", True),
        ("1 | 2 ^ 3 & 1", 3),
        # references
        ("$variable.n + 1", 4),
        ("$input.MyInput.status", "offline"),
        ("$input.MyInput.temperatures[2]", 78.8),
        ("$input.MyInput.sensorData.pressure", 80),
        ("$input.MyInput.sensorData.`motor pressure`", 56),
        ("$input.MyInput.`_value`", 7),
        ("$input.MyInput.items[0].code", "E1"),
        # functions
        ('startsWith($input.MyInput.status, "off")', True),
        ('endsWith($input.MyInput.status, "line")', True),
        ('contains($input.MyInput.status, "fli")', True),
        ('contains($input.MyInput.status, "xyz")', False),
        ("bitor($input.MyInput.value1, $input.MyInput.value2)", 13),
        ("bitand($input.MyInput.value1, $input.MyInput.value2)", 5),
        ("bitxor($input.MyInput.value1, $input.MyInput.value2)", 8),
        ("bitnot($input.MyInput.value1)", -14),
        ("isNull($input.MyInput.a)", True),
        ("isUndefined($input.MyInput.a)", False),
        ("isUndefined($input.MyInput.nothing)", True),
        ("isNull($input.MyInput.nothing)", False),
        ("isUndefined($variable.never_set)", True),
        ('currentInput("MyInput")', True),
        ('currentInput("Other")', False),
        ('triggerType("Message")', True),
        ('triggerType("MESSAGE")', True),
        ('triggerType("Timer")', False),
        ("convert(String, true)", "true"),
        ("convert(String, 2.5)", "2.5"),
        ("convert(String, 3)", "3"),
        ("convert(Boolean, 'true')", True),
        ("convert(Boolean, 'FALSE')", False),
        ("convert(Decimal, '12.5')", 12.5),
        ("convert(Decimal, '-3')", -3.0),
        ("convert('Decimal', '1.5') + 1", 2.5),
        # templates
        (
            "'${$input.GreenhouseInput.temperature * 9 / 5 + 32} in Fahrenheit'",
            "50.018 in Fahrenheit",
        ),
        (
            '\'{\\"sensor_id\\":\\"${$input.GreenhouseInput.sensors[0].sensor1}\\",'
            '\\"temperature\\":\\"${$input.GreenhouseInput.temperature*9/5+32}\\"}\'',
            '{"sensor_id":"Sensor_1","temperature":"50.018"}',
        ),
        ("'Sensor ${$variable.SensorID}'", "Sensor 10"),
        ("'${$variable.b} and ${$variable.d}'", "true and 2.5"),
        ("'nested ${'inner ' + $variable.s}'", "nested inner offline"),
        ("'codes ${$input.MyInput.temperatures}'", "codes [78.4,77.9,78.8]"),
        ("'literal \\${not a template}'", "literal ${not a template}"),
        ("'it\\'s'", "it's"),
    ],
)
def test_expression_values(source: str, expected: Any) -> None:
    result = run(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "source",
    [
        "'a' + 1",  # concatenation needs two strings
        "1 + true",
        "'3' * 2",
        "1 / 0",
        "1 % 0",
        "1.5 | 1",  # bitwise needs integers
        "~1.5",
        "true < false",  # Booleans are not ordered
        "1 == 'a'",
        "'a' < 3",  # comparisons with a numeric literal take a fast path: same results
        "true > 1",
        "$variable.s >= 2",
        "$variable.s == 2",
        "$variable.missing != 2",
        "!1",
        "-'a'",
        "$input.MyInput.nothing + 1",
        "$input.MyInput.a + 1",  # null is not a number
        "$input.MyInput.temperatures[9]",
        "$input.MyInput.status.deeper",
        "$input.Unknown.x",
        "$variable.missing",
        "convert(Decimal, 'abc')",
        "convert(Boolean, 'yes')",
        "convert(Decimal, true)",
        "convert('Integer', 1)",
        "startsWith(1, 'a')",
        "bitand(1.5, 1)",
        "'x ${$variable.missing} y'",
        "1 && true",
        "$variable.missing && true",
    ],
)
def test_invalid_operations_are_undefined(source: str) -> None:
    assert run(source) is UNDEFINED


def test_or_treats_undefined_side_as_false() -> None:
    """Documented: a subexpression of || that contains undefined data counts as false."""
    assert run("$input.MyInput.nothing > 3 || true") is True
    assert run("true || $input.MyInput.nothing > 3") is True
    assert run("$input.MyInput.nothing > 3 || false") is False
    assert run("$variable.missing || $input.MyInput.nothing") is False


def test_or_and_and_over_chains() -> None:
    assert run("false || false || $variable.b") is True
    assert run("5 || true") is True  # a non-Boolean operand is only fatal if nothing is true
    assert run("5 || false") is UNDEFINED
    assert run("true && true && $variable.b") is True
    assert run("true && 5 && false") is UNDEFINED  # stops at the first non-true operand


def test_and_short_circuits_on_false() -> None:
    assert run("false && $variable.missing") is False
    assert run("true && $variable.missing") is UNDEFINED


def test_timeout_asks_the_context() -> None:
    seen: list[str] = []

    def probe(name: str) -> bool:
        seen.append(name)
        return name == "t1"

    assert ev('timeout("t1")', timer_probe=probe) is True
    assert ev("timeout('t2')", timer_probe=probe) is False
    assert ev("timeout($variable.name)", variables={"name": "t1"}, timer_probe=probe) is True
    assert ev("timeout(3)", timer_probe=probe) is UNDEFINED
    assert seen == ["t1", "t2", "t1"]


def test_trigger_type_timer_and_current_input_during_timer() -> None:
    assert ev('triggerType("Timer")', trigger_type="Timer") is True
    assert ev('currentInput("MyInput")', trigger_type="Timer", current_input=None) is False


def test_references_are_collected_for_routing_and_checks() -> None:
    compiled = compile_expression(
        'currentInput("A") && $input.B.x.y[0] > $variable.v && timeout("t") || $input.B.z'
    )
    assert compiled.inputs == {"A", "B"}
    assert compiled.input_paths == {("B", ("x", "y", 0)), ("B", ("z",))}
    assert compiled.variables == {"v"}
    assert compiled.timers == {"t"}


def test_compilation_is_cached_per_source() -> None:
    assert compile_expression("$variable.n + 1") is compile_expression("$variable.n + 1")


def test_template_text_for_action_fields() -> None:
    topic = compile_template_text("wardlink/${$variable.s}/alerts")
    assert topic(MESSAGE) == "wardlink/offline/alerts"
    assert compile_template_text("plain/topic")(MESSAGE) == "plain/topic"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("", "empty expression"),
        ("1 +", "ends where a value was expected"),
        ("$input.X.a = 3", "use '=='"),
        ("(1 + 2", "expected ')'"),
        ("1 2", "after a complete expression"),
        ("'unclosed", "not closed"),
        ("'${1 + 2'", "not closed"),
        ("'${}'", "empty substitution"),
        ("$inputs.X", "'$' must start"),
        ("$input", "'.' after $input"),
        ("$input.X[a]", "array index"),
        ("$input.X[1.5]", "array index"),
        ("`never closed", "backtick"),
        ("foo", "unknown identifier 'foo'"),
        ("nosuch(1)", "unknown function 'nosuch'"),
        ("TIMEOUT('x')", "did you mean timeout"),
        ("isNull()", "takes 1 argument"),
        ("startsWith('a')", "takes 2 arguments"),
        ("convert(Integer, 1)", "convert() type must be one of"),
        ("triggerType('Sometimes')", '"Message" or "Timer"'),
        ("1 # 2", "unexpected character"),
        ("12abc", "malformed number"),
    ],
)
def test_syntax_errors_say_where(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert fragment in str(info.value)
