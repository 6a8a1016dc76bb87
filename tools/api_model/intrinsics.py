"""Partial evaluation of CloudFormation intrinsics, so a definition built with ``Fn::Join`` around tokens can
be read as text and a request's literal parts can be checked before deployment.

What cannot be known at synth time stays visibly unknown instead of being guessed:

- an unknown *piece of a string* is the private-use character ``MARKER`` (U+E000), so a string can be partly
  known; its length without markers is a lower bound on its real length;
- an unknown *whole value* (a token where a list, number or object may be expected) is the ``UNKNOWN``
  sentinel, which the shape checker skips.

A standalone ``Ref``/``Fn::GetAtt``/``Fn::ImportValue`` is ``UNKNOWN`` (an attribute can be a list); inside
``Fn::Join``/``Fn::Sub`` the same token is a ``MARKER`` (CloudFormation only joins strings).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

MARKER: Final = "\ue000"
# A token that sat outside any JSON string in a joined definition (``"Count":`` + Ref + ``,``); it is swapped
# for this one-character JSON string before parsing and turned into UNKNOWN after.
_BARE_TOKEN: Final = "\ue001"


class Unknown:
    """A whole value that is not known before deployment (or before the execution that produces it)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Final = Unknown()


class _NoValue:
    """``Ref: AWS::NoValue``: the property is removed, as CloudFormation does."""

    def __repr__(self) -> str:
        return "<AWS::NoValue>"


NO_VALUE: Final = _NoValue()

# Account IDs are always 12 digits, so a stand-in keeps every length right; the URL suffix is the one of the
# partition we assume (aws), which is also the only partition this app deploys to.
PLACEHOLDER_ACCOUNT: Final = "123456789012"


@dataclass(frozen=True)
class Environment:
    """What is known about the stack being read: its region (from cdk.out's manifest when it names one)."""

    region: str | None = None
    account: str = PLACEHOLDER_ACCOUNT
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"
    mappings: dict[str, Any] = field(default_factory=dict)

    def pseudo_parameter(self, name: str) -> str | None:
        """The value of ``AWS::<name>`` when it is known before deployment, else None."""
        return {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": self.url_suffix,
        }.get(name)


def is_known(value: str) -> bool:
    """Whether a string holds no unknown piece."""
    return MARKER not in value


def literal_length(value: str) -> int:
    """Length of the known pieces: a lower bound on the deployed string's length."""
    return len(value) - value.count(MARKER)


def as_text(value: Any) -> str:
    """A resolved value used as a piece of a string: strings as they are, anything else one unknown piece."""
    return value if isinstance(value, str) else MARKER


def _is_intrinsic(node: dict[str, Any]) -> bool:
    if len(node) != 1:
        return False
    (key,) = node
    return key == "Ref" or key.startswith("Fn::")


def resolve(node: Any, env: Environment) -> Any:
    """``node`` with every intrinsic evaluated as far as synth-time knowledge allows."""
    if isinstance(node, list):
        items = [resolve(item, env) for item in node]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if _is_intrinsic(node):
        ((name, argument),) = node.items()
        return _evaluate(name, argument, env)
    resolved = {key: resolve(value, env) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value is not NO_VALUE}


def _evaluate(name: str, argument: Any, env: Environment) -> Any:
    if name == "Ref":
        if argument == "AWS::NoValue":
            return NO_VALUE
        known = env.pseudo_parameter(argument) if isinstance(argument, str) else None
        return UNKNOWN if known is None else known
    if name == "Fn::Join":
        return _join(argument, env)
    if name == "Fn::Sub":
        return _sub(argument, env)
    if name == "Fn::Select":
        return _select(argument, env)
    if name == "Fn::Split":
        return _split(argument, env)
    if name == "Fn::FindInMap":
        return _find_in_map(argument, env)
    if name == "Fn::Base64":
        text = resolve(argument, env)
        if isinstance(text, str) and is_known(text):
            return base64.b64encode(text.encode()).decode()
        return MARKER  # certainly a string, of unknown length
    if name == "Fn::ToJsonString":
        try:
            return json.dumps(resolve(argument, env), separators=(",", ":"), default=_refuse)
        except ValueError:
            return MARKER
    # Fn::GetAtt, Fn::ImportValue, Fn::GetStackOutput, Fn::GetAZs, Fn::If, Fn::Cidr, conditions, ...: values
    # that exist only once the stack (or another one) is deployed.
    return UNKNOWN


def _refuse(value: Any) -> Any:
    raise ValueError(f"cannot serialize {value!r}")


def _join(argument: Any, env: Environment) -> str:
    if not (isinstance(argument, list) and len(argument) == 2):
        return MARKER
    separator = resolve(argument[0], env)
    items = resolve(argument[1], env)
    if not isinstance(items, list):
        return MARKER
    return as_text(separator).join(as_text(item) for item in items)


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _sub(argument: Any, env: Environment) -> str:
    if isinstance(argument, str):
        text, variables = argument, {}
    elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
        text, variables = argument[0], argument[1] if isinstance(argument[1], dict) else {}
    else:
        return MARKER

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):  # ${!Literal} is the literal text ${Literal}
            return "${" + name[1:] + "}"
        if name in variables:
            return as_text(resolve(variables[name], env))
        known = env.pseudo_parameter(name)
        return MARKER if known is None else known

    return _SUB_VARIABLE.sub(substitute, text)


def _select(argument: Any, env: Environment) -> Any:
    if not (isinstance(argument, list) and len(argument) == 2):
        return UNKNOWN
    index, items = resolve(argument[0], env), resolve(argument[1], env)
    try:
        position = int(index)
    except (TypeError, ValueError):
        return UNKNOWN
    if isinstance(items, list) and 0 <= position < len(items):
        return items[position]
    return UNKNOWN


def _split(argument: Any, env: Environment) -> Any:
    if not (isinstance(argument, list) and len(argument) == 2):
        return UNKNOWN
    separator, source = resolve(argument[0], env), resolve(argument[1], env)
    # An unknown piece may itself hold separators, so only a fully known source splits into known items.
    if isinstance(separator, str) and separator and isinstance(source, str) and is_known(source):
        return source.split(separator)
    return UNKNOWN


def _find_in_map(argument: Any, env: Environment) -> Any:
    if not (isinstance(argument, list) and len(argument) == 3):
        return UNKNOWN
    keys = [resolve(key, env) for key in argument]
    node: Any = env.mappings
    for key in keys:
        if not (isinstance(key, str) and is_known(key) and isinstance(node, dict) and key in node):
            return UNKNOWN
        node = node[key]
    return resolve(node, env)


def parse_json_text(text: str) -> Any:
    """``json.loads`` of a resolved definition: a token that stood outside any JSON string (a number or object
    from a Ref) becomes UNKNOWN; tokens inside strings stay MARKER pieces of those strings."""
    pieces: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == MARKER:
            pieces.append(f'"{_BARE_TOKEN}"')
            continue
        pieces.append(char)
    return _unbare(json.loads("".join(pieces)))


def _unbare(node: Any) -> Any:
    if node == _BARE_TOKEN:
        return UNKNOWN
    if isinstance(node, list):
        return [_unbare(item) for item in node]
    if isinstance(node, dict):
        return {key: _unbare(value) for key, value in node.items()}
    return node


def show(value: Any, limit: int = 60) -> str:
    """A value for a finding message: JSON-like, unknown pieces as ``<?>``, cut to ``limit`` characters.
    ASCII only, so a finding prints under any locale a CI runner has."""
    if value is UNKNOWN:
        return "<unknown>"
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = ascii(value)
    text = text.replace(json.dumps(MARKER)[1:-1], "<?>")
    return text if len(text) <= limit else text[: limit - 3] + "..."
