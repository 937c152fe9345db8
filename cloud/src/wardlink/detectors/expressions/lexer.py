"""Tokenizer for IoT Events expressions.

Substitution templates (``'text ${expr} text'``) nest whole expressions, which can
themselves contain quoted strings, inside a quoted string. The lexer therefore
scans recursively: on ``${`` inside a single-quoted string it tokenizes the inner
expression up to its closing ``}`` and stores those tokens as one part of a
TEMPLATE token. The parser later parses each part on its own.

Escapes inside quoted strings: ``\\\\``, ``\\'``, ``\\"`` and ``\\$`` (to write a literal
``${``). Any other backslash is kept verbatim, so JSON escapes such as ``\\n`` or
``\\u00e9`` in a JSON payload template reach the JSON parser untouched.
"""

from __future__ import annotations

from wardlink.detectors.expressions.errors import ExpressionError
from wardlink.detectors.expressions.tokens import Token, TokenKind

_TWO_CHAR_OPERATORS = frozenset({"||", "&&", "==", "!=", "<=", ">="})
_ONE_CHAR_OPERATORS = frozenset("|&^<>+-*/%!~")
_PUNCTUATION = {
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    "[": TokenKind.LBRACKET,
    "]": TokenKind.RBRACKET,
    ".": TokenKind.DOT,
    ",": TokenKind.COMMA,
}
_SIMPLE_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "$": "$"}


def tokenize(source: str) -> tuple[Token, ...]:
    """Tokenize a whole expression; the last token is always END."""
    scanner = _Scanner(source)
    tokens = scanner.scan(inside_template=False)
    return tuple(tokens)


def tokenize_template_text(source: str) -> tuple[Token, ...]:
    """Tokenize bare text with ``${...}`` substitutions as a single TEMPLATE token.

    Used for action fields such as ``mqttTopic`` that are text, not expressions,
    but may embed substitutions (``wardlink/${$input.X.gateway_id}/alerts``).
    """
    scanner = _Scanner(source)
    parts = scanner.scan_string_body(quote=None, start=0)
    return (
        Token(TokenKind.TEMPLATE, source, 0, tuple(parts)),
        Token(TokenKind.END, "", len(source)),
    )


class _Scanner:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0

    def error(self, message: str, position: int | None = None) -> ExpressionError:
        return ExpressionError(message, self.source, self.pos if position is None else position)

    def scan(self, *, inside_template: bool) -> list[Token]:
        """Tokens up to the end of input (or, inside a template, up to the closing brace)."""
        src = self.source
        out: list[Token] = []
        while True:
            while self.pos < len(src) and src[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos >= len(src):
                if inside_template:
                    raise self.error("substitution '${' is not closed with '}'")
                out.append(Token(TokenKind.END, "", self.pos))
                return out
            start = self.pos
            char = src[start]
            if inside_template and char == "}":
                self.pos += 1
                out.append(Token(TokenKind.END, "", start))
                return out
            if char.isdigit():
                out.append(self._number())
            elif char.isalpha() or char == "_":
                out.append(self._identifier())
            elif char == "`":
                out.append(self._quoted_identifier())
            elif char == "$":
                out.append(self._reference())
            elif char in ("'", '"'):
                out.append(self._string(char))
            elif src[start : start + 2] in _TWO_CHAR_OPERATORS:
                self.pos += 2
                out.append(Token(TokenKind.OPERATOR, src[start : start + 2], start))
            elif char in _ONE_CHAR_OPERATORS:
                self.pos += 1
                out.append(Token(TokenKind.OPERATOR, char, start))
            elif char in _PUNCTUATION:
                self.pos += 1
                out.append(Token(_PUNCTUATION[char], char, start))
            elif char == "=":
                raise self.error("single '=' is not an operator; use '==' to compare")
            else:
                raise self.error(f"unexpected character {char!r}")

    def _number(self) -> Token:
        src, start = self.source, self.pos
        end = start
        while end < len(src) and src[end].isdigit():
            end += 1
        is_decimal = False
        if end + 1 < len(src) and src[end] == "." and src[end + 1].isdigit():
            is_decimal = True
            end += 1
            while end < len(src) and src[end].isdigit():
                end += 1
        if end < len(src) and src[end] in "eE":
            exp_end = end + 1
            if exp_end < len(src) and src[exp_end] in "+-":
                exp_end += 1
            if exp_end < len(src) and src[exp_end].isdigit():
                is_decimal = True
                end = exp_end
                while end < len(src) and src[end].isdigit():
                    end += 1
        text = src[start:end]
        self.pos = end
        if end < len(src) and (src[end].isalpha() or src[end] == "_"):
            raise self.error(f"malformed number {src[start : end + 1]!r}", start)
        value: int | float = float(text) if is_decimal else int(text)
        return Token(TokenKind.NUMBER, text, start, value)

    def _identifier(self) -> Token:
        src, start = self.source, self.pos
        end = start + 1
        while end < len(src) and (src[end].isalnum() or src[end] == "_"):
            end += 1
        self.pos = end
        return Token(TokenKind.IDENT, src[start:end], start, src[start:end])

    def _quoted_identifier(self) -> Token:
        src, start = self.source, self.pos
        end = src.find("`", start + 1)
        if end < 0:
            raise self.error("backtick-quoted identifier is not closed", start)
        name = src[start + 1 : end]
        if not name:
            raise self.error("empty backtick-quoted identifier", start)
        self.pos = end + 1
        return Token(TokenKind.QUOTED_IDENT, src[start : end + 1], start, name)

    def _reference(self) -> Token:
        src, start = self.source, self.pos
        for word, kind in (("$input", TokenKind.INPUT), ("$variable", TokenKind.VARIABLE)):
            end = start + len(word)
            if src.startswith(word, start) and not (
                end < len(src) and (src[end].isalnum() or src[end] == "_")
            ):
                self.pos = end
                return Token(kind, word, start)
        raise self.error("'$' must start '$input.' or '$variable.'", start)

    def _string(self, quote: str) -> Token:
        start = self.pos
        parts = self.scan_string_body(quote=quote, start=start + 1)
        text = self.source[start : self.pos]
        if quote == "'" and any(not isinstance(part, str) for part in parts):
            return Token(TokenKind.TEMPLATE, text, start, tuple(parts))
        return Token(TokenKind.STRING, text, start, "".join(p for p in parts if isinstance(p, str)))

    def scan_string_body(self, *, quote: str | None, start: int) -> list[str | tuple[Token, ...]]:
        """Decode a string body from ``start``; leave ``pos`` after the closing quote.

        ``quote`` None scans bare template text to the end of input. Substitutions
        are recognized in single-quoted strings and bare text, not in double quotes.
        """
        src = self.source
        parts: list[str | tuple[Token, ...]] = []
        chunk: list[str] = []
        pos = start
        templates = quote != '"'
        while True:
            if pos >= len(src):
                if quote is None:
                    break
                raise self.error(f"string starting with {quote} is not closed", start - 1)
            char = src[pos]
            if quote is not None and char == quote:
                pos += 1
                break
            if char == "\\" and pos + 1 < len(src):
                nxt = src[pos + 1]
                chunk.append(_SIMPLE_ESCAPES.get(nxt, "\\" + nxt))
                pos += 2
                continue
            if templates and char == "$" and src.startswith("${", pos):
                if chunk:
                    parts.append("".join(chunk))
                    chunk = []
                self.pos = pos + 2
                inner = self.scan(inside_template=True)
                if len(inner) == 1:
                    raise self.error("empty substitution '${}'", pos)
                parts.append(tuple(inner))
                pos = self.pos
                continue
            chunk.append(char)
            pos += 1
        if chunk or not parts:
            parts.append("".join(chunk))
        self.pos = pos
        return parts
