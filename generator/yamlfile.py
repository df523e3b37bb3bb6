"""Safe YAML loading that remembers where every value came from.

Content is loaded with a safe loader (the C one when available: it parses several times
faster), but instead of plain data we keep the composed node tree so each problem can be
reported at the line and column of the value it is about. Any explicit tag that is not a
plain YAML type (`!!python/object`, `!include`, …) is refused: content is data, not code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

try:  # libyaml's parser: same safety, several times faster on large repositories
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader

from .errors import Problem

_STD = "tag:yaml.org,2002:"
_STR = _STD + "str"
ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")}


@dataclass
class Loc:
    """A position in a source file, 1-based."""

    line: int
    column: int


@dataclass
class Value:
    """A loaded value with its position. Mappings hold `dict[str, Value]`, sequences `list[Value]`."""

    data: object
    loc: Loc
    key_locs: dict = field(default_factory=dict)  # for mappings: key -> Loc of the key itself
    style: str | None = None  # for scalars: None (plain), "'", '"', "|" or ">"

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.data, dict)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.data, list)

    def plain(self):
        """The value without positions (for `extra:` maps and tests)."""
        if isinstance(self.data, dict):
            return {k: v.plain() for k, v in self.data.items()}
        if isinstance(self.data, list):
            return [v.plain() for v in self.data]
        return self.data


class _Invalid:
    """Stands for a value already reported as a problem, so it is not also called missing."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()


class _Scalars(yaml.constructor.SafeConstructor):
    pass


def _loc(node) -> Loc:
    return Loc(node.start_mark.line + 1, node.start_mark.column + 1)


class YamlFile:
    """Loads one file; problems are collected, never raised one by one."""

    def __init__(self, relpath: str, text: str):
        self.relpath = relpath
        self.problems: list[Problem] = []
        self.root: Value | None = None
        self._scalars = _Scalars()
        self.lines = text.splitlines()
        try:
            node = yaml.compose(text, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            reason = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.context_mark and exc.problem_mark:
                start = exc.context_mark
                reason += f" ({exc.context} at line {start.line + 1}, column {start.column + 1})"
            self.problem(Loc(line, col), "", f"invalid YAML: {reason}")
            return
        except yaml.YAMLError as exc:
            self.problem(Loc(1, 1), "", f"invalid YAML: {exc}")
            return
        if node is None:
            self.root = Value({}, Loc(1, 1))
            return
        self.root = self._convert(node, "")

    def problem(self, loc: Loc, fieldpath: str, message: str) -> None:
        self.problems.append(Problem(self.relpath, loc.line, loc.column, fieldpath, message))

    def _convert(self, node, path: str) -> Value | None:
        loc = _loc(node)
        if node.tag not in ALLOWED_TAGS:
            self.problem(loc, path, f"YAML tag {node.tag.replace(_STD, '!!')} is not allowed")
            return Value(INVALID, loc)
        if isinstance(node, yaml.MappingNode):
            items: dict[str, Value] = {}
            key_locs: dict[str, Loc] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in ALLOWED_TAGS:
                    self.problem(_loc(key_node), path, "keys must be plain names")
                    continue
                key = key_node.value if key_node.tag == _STR else str(self._scalars.construct_object(key_node))
                sub = f"{path}.{key}" if path else key
                if key in items:
                    self.problem(_loc(key_node), sub, "appears twice in the same map")
                    continue
                converted = self._convert(value_node, sub)
                if converted is not None:
                    items[key] = converted
                    key_locs[key] = _loc(key_node)
            return Value(items, loc, key_locs)
        if isinstance(node, yaml.SequenceNode):
            values = []
            for i, child in enumerate(node.value):
                converted = self._convert(child, f"{path}[{i}]")
                if converted is not None:
                    values.append(converted)
            return Value(values, loc)
        try:
            # Most scalars are plain text: take it as is, the constructor is for typed values.
            data = node.value if node.tag == _STR else self._scalars.construct_object(node)
        except ValueError:
            # e.g. 2024-02-30: looks like a date, is not one.
            self.problem(loc, path, f"{node.value} is not a real date")
            return Value(INVALID, loc)
        return Value(data, loc, style=node.style)

    def position_in(self, value: Value, offset: int) -> Loc:
        """The file position of character `offset` of a scalar's text (best effort for folded text)."""
        text = str(value.data)
        if value.style in ("|", ">"):
            # Block scalars start on the line after the indicator, at the block's indentation.
            line_index = value.loc.line + text[:offset].count("\n")
            source_line = self.lines[line_index] if line_index < len(self.lines) else ""
            indent = len(source_line) - len(source_line.lstrip(" "))
            return Loc(line_index + 1, indent + offset - (text.rfind("\n", 0, offset) + 1) + 1)
        quote = 1 if value.style in ("'", '"') else 0
        return Loc(value.loc.line, value.loc.column + quote + offset)

    def walk_text(self):
        """Every text scalar with its field path: (path, Value)."""
        def walk(value: Value, path: str):
            if isinstance(value.data, dict):
                for key, child in value.data.items():
                    yield from walk(child, f"{path}.{key}" if path else key)
            elif isinstance(value.data, list):
                for index, child in enumerate(value.data):
                    yield from walk(child, f"{path}[{index}]")
            elif isinstance(value.data, str):
                yield path, value

        if self.root is not None:
            yield from walk(self.root, "")
