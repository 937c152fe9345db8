"""The IoT Events expression language: tokenizer, Pratt parser and closure compiler.

Public surface: ``compile_expression`` (cached per source string),
``compile_template_text`` for text fields with ``${...}``, ``EvalContext``,
``UNDEFINED`` and ``ExpressionError``.
"""

from wardlink.detectors.expressions.compiler import (
    KNOWN_FUNCTIONS,
    CompiledExpression,
    compile_expression,
    compile_template_text,
)
from wardlink.detectors.expressions.context import EvalContext
from wardlink.detectors.expressions.errors import ExpressionError
from wardlink.detectors.expressions.values import UNDEFINED, to_text, type_name

__all__ = [
    "KNOWN_FUNCTIONS",
    "UNDEFINED",
    "CompiledExpression",
    "EvalContext",
    "ExpressionError",
    "compile_expression",
    "compile_template_text",
    "to_text",
    "type_name",
]
