"""Why an inventory could not be parsed, told without a value from it.

Ansible's parsers quote what they refuse: a whole INI line (``h1 ansible_password="secret``, no closing
quotation), a token, or YAML data. An import error goes back to the client and into logs, so Ansible's message
never leaves this module: it only says which of the known failures happened, and the message is made here from
a fixed text, the line number (found in the input by this module), and names that the syntax makes names (a host
alias at the start of an INI host line, a group in a section header, a variable before its ``=``). A variable's
value, a bad token, or a whole line is never part of it; an unknown failure gets a fixed message.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Final

import yaml

# Names shown in messages: the characters of host names, addresses (IPv6 too), ranges and group names; never a
# space, '=' or a quote, the marks of a value that ended up where a name goes.
SAFE_NAME: Final = re.compile(r"^[A-Za-z0-9_.:\-\[\]]{1,100}$")
VARIABLE: Final = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]{0,99})=")
REASON: Final = re.compile(r"Failed to parse inventory with '(\w+)' plugin: (.*)", re.DOTALL)
SECTION: Final = re.compile(r"^\[([^\]:\s]+)(?::(\w+))?\]")
# shlex's own reasons, a fixed text that quotes nothing.
SPLIT_REASONS: Final = {"No closing quotation": "a quote is not closed", "No escaped character": "a line ends in \\"}
# Anything between quotes in a parser's text: YAML's messages quote the characters, tags and aliases they met.
QUOTED: Final = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`")
# libyaml when PyYAML has it: fast on a large input, and its parser stops at 1000 levels of nesting (the pure
# Python scanner slows down with each level of flow nesting: seconds for a few thousand).
YAML_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
GENERIC: Final = "Ansible's parser refused it (its message is not shown: it quotes the input)"

Matched = Callable[[re.Match[str], list[str]], str]


def shown_name(name: str) -> str | None:
    """``name`` if it may be shown (see SAFE_NAME), else None."""
    return name if SAFE_NAME.match(name) else None


def _line_of(lines: list[str], fragment: str) -> int | None:
    """The 1-based number of the first line holding ``fragment`` (which Ansible quoted from it)."""
    fragment = fragment.strip()
    if not fragment:
        return None
    for number, line in enumerate(lines, 1):
        if fragment in line:
            return number
    return None


def _group_at(lines: list[str], number: int) -> str | None:
    """The group of the section the line is in (None before any section header)."""
    for line in reversed(lines[:number]):
        header = SECTION.match(line.strip())
        if header:
            return shown_name(header.group(1))
    return None


def _where(lines: list[str], number: int | None, host: bool = False) -> str:
    if number is None:
        return ""
    words = lines[number - 1].split()
    context = ""
    if host and words and "=" not in words[0] and not any(q in words[0] for q in "'\""):
        alias = shown_name(words[0])
        context = f" (host {alias})" if alias else ""
    else:
        group = _group_at(lines, number)
        context = f" (group {group})" if group else ""
    return f"line {number}{context}: "


def _unsplittable_variable(line: str) -> str | None:
    """The variable whose value starts the quote (or escape) that cannot be closed: the last ``name=`` before
    which the line still splits."""
    culprit = None
    for match in VARIABLE.finditer(line):
        try:
            shlex.split(line[: match.start()])
        except ValueError:
            break
        culprit = match.group(1)
    return culprit


def _host_definition(match: re.Match[str], lines: list[str]) -> str:
    number = _line_of(lines, match.group("line"))
    why = SPLIT_REASONS.get(match.group("why").strip(), "it cannot be split into words")
    variable = _unsplittable_variable(lines[number - 1]) if number else None
    of = f" in the value of {variable}" if variable else ""
    return f"{_where(lines, number, host=True)}a host line Ansible cannot read: {why}{of}"


def _host_variable(match: re.Match[str], lines: list[str]) -> str:
    number = _line_of(lines, match.group("token"))
    return (
        f"{_where(lines, number, host=True)}a word that is not name=value after the host name "
        "(a value with spaces must be quoted)"
    )


def _group_variable(match: re.Match[str], lines: list[str]) -> str:
    number = _line_of(lines, match.group("line"))
    return f"{_where(lines, number)}a line of a [group:vars] section that is not name=value"


def _section_type(match: re.Match[str], lines: list[str]) -> str:
    number = _line_of(lines, f"[{match.group('title')}]")
    group = shown_name(match.group("title").split(":", 1)[0])
    of = f" of group {group}" if group else ""
    return f"{_where(lines, number)}a section header{of} with an unknown type after ':' (known: vars, children)"


def _child_group(match: re.Match[str], lines: list[str]) -> str:
    number = _line_of(lines, match.group("line"))
    return f"{_where(lines, number)}a line of a [group:children] section that is not one group name"


def _section_entry(match: re.Match[str], lines: list[str]) -> str:
    number = _line_of(lines, match.group("line"))
    return f"{_where(lines, number)}a section header Ansible cannot read (no spaces inside [ ])"


def _host_pattern(match: re.Match[str], lines: list[str]) -> str:
    return "a host name ending in ':' (a port must follow the ':')"


def _yaml_start(match: re.Match[str], lines: list[str]) -> str:
    return "a line '---', which starts a YAML document: import it with format yaml"


def _undefined_group(match: re.Match[str], lines: list[str]) -> str:
    group = shown_name(match.group("group"))
    return f"a [{group or '…'}:{match.group('kind')}] section for a group that is not defined"


INI_PROBLEMS: Final[list[tuple[re.Pattern[str], Matched]]] = [
    (re.compile(r"Error parsing host definition '(?P<line>.*)': (?P<why>[^:]*)$", re.DOTALL), _host_definition),
    (re.compile(r"Expected key=value host variable assignment, got: (?P<token>.*)$", re.DOTALL), _host_variable),
    (re.compile(r"Expected key=value, got: (?P<line>.*)$", re.DOTALL), _group_variable),
    (re.compile(r"Section \[(?P<title>.*)\] has unknown type: .*$", re.DOTALL), _section_type),
    (re.compile(r"Expected group name, got: (?P<line>.*)$", re.DOTALL), _child_group),
    (re.compile(r"Invalid section entry: '(?P<line>.*)'\. Please", re.DOTALL), _section_entry),
    (re.compile(r"Invalid host pattern '.*' supplied, ending in ':'", re.DOTALL), _host_pattern),
    (re.compile(r"Invalid host pattern '.*' supplied, '---'", re.DOTALL), _yaml_start),
    (re.compile(r"Section \[(?P<group>.*):(?P<kind>vars|children)\] .*undefined group", re.DOTALL), _undefined_group),
]


def _yaml_syntax(text: str) -> str | None:
    """Where PyYAML stops, and its reason with what it quotes taken out (the scanner names the character it met)."""
    try:
        # Events first (without recursion), then nodes: an undefined alias is the composer's error. Nothing is
        # built from the nodes. The pure Python composer recurses: nesting deep enough to stop it is said so.
        for _ in yaml.parse(text, Loader=YAML_LOADER):
            pass
        for _ in yaml.compose_all(text, Loader=YAML_LOADER):
            pass
    except RecursionError:
        return "YAML nested too deeply to read"
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = " ".join(QUOTED.sub("(…)", exc.problem or "").split())[:200]
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return f"{where}YAML syntax: {problem or 'not valid YAML'}"
    except yaml.YAMLError:
        return "YAML syntax: not valid YAML"
    return None


def _yaml_tag(text: str) -> str | None:
    """The line of the first tag that YAML's safe loader does not know (Ansible knows only !vault and !unsafe)."""
    try:
        for event in yaml.parse(text, Loader=YAML_LOADER):
            tag = getattr(event, "tag", None)
            if tag and tag.startswith("!") and tag not in ("!vault", "!unsafe"):
                return f"line {event.start_mark.line + 1}: a YAML tag Ansible does not know"
    except yaml.YAMLError:
        return None
    return None


def _yaml_problem(message: str, text: str) -> str:
    if message.startswith("YAML parsing failed"):
        if "constructor for the tag" in message:
            return _yaml_tag(text) or "a YAML tag Ansible does not know"
        return _yaml_syntax(text) or "YAML syntax: not valid YAML"
    entry = re.match(r'Invalid "(vars|children|hosts)" entry for "(.*)" group, requires a dictionary', message)
    if entry:
        group = shown_name(entry.group(2))
        return f"the {entry.group(1)} of group {group or '…'} are not a mapping (name: value lines)"
    fixed = {
        "Invalid data from file, expected dictionary": "the variables of a host or group are not a mapping "
        "(name: value lines, indented under it)",
        "YAML inventory has invalid structure": "the top level is not a mapping of group names",
        "Parsed empty YAML file": "the inventory is empty",
        "Plugin configuration YAML file": "a plugin configuration, not an inventory",
        "Host pattern ": "a host name that is a number: quote it",
        "Unable to add group ": "a group name Ansible refuses",
    }
    for start, problem in fixed.items():
        if message.startswith(start):
            return problem
    return GENERIC


def _ini_problem(message: str, text: str) -> str:
    message = message.removeprefix("Failed to parse inventory: ")
    lines = text.splitlines()
    for pattern, explain in INI_PROBLEMS:
        match = pattern.match(message)
        if match:
            return explain(match, lines)
    return GENERIC


def explain(fmt: str, text: str, reasons: list[str]) -> str:
    """The InvalidInput message for an inventory Ansible refused; ``reasons`` are its own messages (never shown),
    one per parser tried ("Failed to parse inventory with 'ini' plugin: ...")."""
    parts = []
    for reason in reasons:
        match = REASON.match(reason)
        if match is None:
            continue
        plugin, message = match.groups()
        if plugin == "yaml":
            parts.append(("as YAML: " if fmt == "auto" else "") + _yaml_problem(message, text))
        elif plugin == "ini":
            parts.append(("as INI: " if fmt == "auto" else "") + _ini_problem(message, text))
    return f"content: not an inventory Ansible can read ({fmt}): {'; '.join(parts) or GENERIC}"
