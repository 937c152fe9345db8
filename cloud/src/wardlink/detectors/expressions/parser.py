"""Pratt parser: tokens to a syntax tree.

Binding powers follow C/Java, which is what IoT Events' expression language
mirrors (its documentation lists the operators but not their precedence; this
order is the inferred one, see docs/detectors.md):

    ||  <  &&  <  |  <  ^  <  &  <  == !=  <  < <= > >=  <  + -  <  * / %  <  unary ! ~ -

All binary operators are left-associative.
"""

from __future__ import annotations

from wardlink.detectors.expressions.errors import ExpressionError
from wardlink.detectors.expressions.lexer import tokenize, tokenize_template_text
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
from wardlink.detectors.expressions.tokens import Token, TokenKind

BINDING_POWER: dict[str, int] = {
    "||": 10,
    "&&": 20,
    "|": 30,
    "^": 40,
    "&": 50,
    "==": 60,
    "!=": 60,
    "<": 70,
    "<=": 70,
    ">": 70,
    ">=": 70,
    "+": 80,
    "-": 80,
    "*": 90,
    "/": 90,
    "%": 90,
}
_PREFIX_OPERATORS = frozenset({"!", "~", "-"})
_PREFIX_BINDING_POWER = 100


def parse(source: str) -> Node:
    """Parse a complete expression."""
    if not source.strip():
        raise ExpressionError("empty expression", source, 0)
    return _Parser(source, tokenize(source)).parse_all()


def parse_template_text(source: str) -> Node:
    """Parse bare text with ``${...}`` substitutions (see ``tokenize_template_text``)."""
    return _Parser(source, tokenize_template_text(source)).parse_all()


class _Parser:
    def __init__(self, source: str, tokens: tuple[Token, ...]) -> None:
        self.source = source
        self.tokens = tokens
        self.index = 0

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self) -> TokenKind:
        """Kind of the current token (a call, so type narrowing does not stick)."""
        return self.tokens[self.index].kind

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not TokenKind.END:
            self.index += 1
        return token

    def error(self, message: str, token: Token | None = None) -> ExpressionError:
        where = (token or self.current).position
        return ExpressionError(message, self.source, where)

    def expect(self, kind: TokenKind, what: str) -> Token:
        token = self.current
        if token.kind is not kind:
            raise self.error(f"expected {what}, found {token.describe()}")
        return self.advance()

    # -- grammar ---------------------------------------------------------------------------------

    def parse_all(self) -> Node:
        node = self.expression(0)
        if self.current.kind is not TokenKind.END:
            raise self.error(f"unexpected {self.current.describe()} after a complete expression")
        return node

    def expression(self, min_power: int) -> Node:
        left = self.prefix()
        while True:
            token = self.current
            if token.kind is not TokenKind.OPERATOR:
                return left
            power = BINDING_POWER.get(token.text)
            if power is None:
                raise self.error(f"{token.text!r} is not a binary operator")
            if power <= min_power:
                return left
            self.advance()
            right = self.expression(power)
            left = Binary(token.text, left, right)

    def prefix(self) -> Node:
        token = self.current
        if token.kind is TokenKind.OPERATOR and token.text in _PREFIX_OPERATORS:
            self.advance()
            operand = self.expression(_PREFIX_BINDING_POWER)
            if token.text == "-" and isinstance(operand, Literal) and _is_number(operand.value):
                return Literal(-operand.value)
            return Unary(token.text, operand)
        return self.primary()

    def primary(self) -> Node:
        token = self.advance()
        kind = token.kind
        if kind is TokenKind.NUMBER or kind is TokenKind.STRING:
            return Literal(token.value)
        if kind is TokenKind.TEMPLATE:
            return self.template(token)
        if kind is TokenKind.IDENT:
            return self.identifier(token)
        if kind is TokenKind.INPUT:
            return self.input_reference()
        if kind is TokenKind.VARIABLE:
            self.expect(TokenKind.DOT, "'.' after $variable")
            return VariableRef(self.name_segment("a variable name"))
        if kind is TokenKind.LPAREN:
            node = self.expression(0)
            self.expect(TokenKind.RPAREN, "')'")
            return node
        if kind is TokenKind.END:
            raise self.error("expression ends where a value was expected", token)
        raise self.error(f"unexpected {token.describe()}", token)

    def identifier(self, token: Token) -> Node:
        word = token.text
        if self.peek() is TokenKind.LPAREN:
            self.advance()
            arguments: list[Node] = []
            if self.peek() is not TokenKind.RPAREN:
                while True:
                    arguments.append(self.expression(0))
                    if self.peek() is TokenKind.COMMA:
                        self.advance()
                        continue
                    break
            self.expect(TokenKind.RPAREN, f"',' or ')' in the call of {word}")
            return Call(word, tuple(arguments), token.position)
        lowered = word.lower()
        if lowered == "true":
            return Literal(True)
        if lowered == "false":
            return Literal(False)
        return Name(word, token.position)

    def name_segment(self, what: str) -> str:
        token = self.current
        if token.kind is TokenKind.IDENT or token.kind is TokenKind.QUOTED_IDENT:
            self.advance()
            return str(token.value)
        raise self.error(f"expected {what}, found {token.describe()}")

    def input_reference(self) -> Node:
        self.expect(TokenKind.DOT, "'.' after $input")
        input_name = self.name_segment("an input name")
        path: list[PathSegment] = []
        while True:
            kind = self.current.kind
            if kind is TokenKind.DOT:
                self.advance()
                path.append(self.name_segment("a field name"))
            elif kind is TokenKind.LBRACKET:
                self.advance()
                index = self.expect(TokenKind.NUMBER, "an array index")
                if type(index.value) is not int:
                    raise self.error("array index must be a non-negative integer", index)
                path.append(int(str(index.value)))
                self.expect(TokenKind.RBRACKET, "']'")
            else:
                return InputRef(input_name, tuple(path))

    def template(self, token: Token) -> Node:
        parts: list[str | Node] = []
        assert isinstance(token.value, tuple)
        for part in token.value:
            if isinstance(part, str):
                if part:
                    parts.append(part)
            else:
                parts.append(_Parser(self.source, part).parse_all())
        return Template(tuple(parts))


def _is_number(value: object) -> bool:
    return type(value) is int or type(value) is float
