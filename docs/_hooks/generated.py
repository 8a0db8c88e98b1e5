"""Pages generated from the code itself, so they cannot drift: the ``pacspace`` command's
reference (every command and option, with its default, read from the parser) and the
table of ``SandboxConfig``'s fields (name, type, default, and the field's docstring).

A page asks for one with a marker line: ``<!-- generated: cli -->`` or
``<!-- generated: sandbox-config -->``. MkDocs calls :func:`on_page_markdown` (a hook,
see ``mkdocs.yml``); the tests call the generators directly.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
from typing import Any

MARKERS = {"<!-- generated: cli -->", "<!-- generated: sandbox-config -->"}


def on_page_markdown(markdown: str, **_: Any) -> str:
    if "<!-- generated: cli -->" in markdown:
        markdown = markdown.replace("<!-- generated: cli -->", cli_reference())
    if "<!-- generated: sandbox-config -->" in markdown:
        markdown = markdown.replace("<!-- generated: sandbox-config -->", sandbox_config_table())
    return markdown


# -- the command ---------------------------------------------------------------------------


def commands() -> list[tuple[str, str, argparse.ArgumentParser]]:
    """Every command of ``pacspace`` that takes options: full name, help, parser."""
    from pacspace_cli import _parser

    found: list[tuple[str, str, argparse.ArgumentParser]] = []

    def walk(name: str, about: str, parser: argparse.ArgumentParser) -> None:
        groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not groups:
            found.append((name, parser.description or about, parser))
        for group in groups:
            helps = {choice.dest: choice.help or "" for choice in group._choices_actions}
            for sub, child in group.choices.items():
                walk(f"{name} {sub}", helps.get(sub, ""), child)

    walk("pacspace", "", _parser())
    return found


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def cli_reference() -> str:
    parts: list[str] = []
    for name, about, parser in commands():
        parts.append(f"## `{name}`\n")
        if about:
            parts.append(f"{about[:1].upper()}{about[1:].rstrip('.')}.\n")
        parts.append(f"```\n{_usage(parser)}\n```\n")
        parts.append("| argument | default | what it does |\n|---|---|---|")
        for action in options(parser):
            parts.append(f"| {_names(action)} | {_default(action)} | {_cell(action.help or '')} |")
        parts.append("")
    return "\n".join(parts)


def _usage(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_usage().split()).removeprefix("usage: ")


def _names(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    shown = ", ".join(f"`{o}`" for o in action.option_strings)
    if action.nargs != 0:
        shown += f" `{action.metavar or action.dest.upper()}`"
    return shown


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if not action.option_strings:
        return "required"
    if isinstance(action, argparse._StoreTrueAction):
        return "off"
    if isinstance(action, argparse._AppendAction):
        return "none (repeatable)"
    if action.default is None:
        return "none"
    return f"`{action.default}`"


def _cell(text: str) -> str:
    """One table cell: one line, ``|`` escaped, reST's double backticks as Markdown's."""
    return " ".join(text.split()).replace("``", "`").replace("|", "\\|")


# -- SandboxConfig -------------------------------------------------------------------------


def sandbox_config_fields() -> list[tuple[str, str, str, str]]:
    """(name, type, default, what it is) of every field, in order."""
    from pacspace_sandbox import SandboxConfig

    notes = _field_docstrings(SandboxConfig)
    rows = []
    for item in dataclasses.fields(SandboxConfig):
        if item.default is not dataclasses.MISSING:
            default = repr(item.default)
            if callable(item.default):
                default = f"{item.default.__module__}.{item.default.__name__}"
        elif item.default_factory is not dataclasses.MISSING:
            default = repr(item.default_factory())
        else:
            default = "required"
        if item.name == "api_keys":
            default = "[one new pk_test_ key]"
        rows.append((item.name, str(item.type), default, notes.get(item.name, "")))
    return rows


def _field_docstrings(cls: type) -> dict[str, str]:
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    found: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[node.target.id] = " ".join(after.value.value.split())
    return found


def sandbox_config_table() -> str:
    lines = ["| field | type | default | what it is |", "|---|---|---|---|"]
    for name, kind, default, note in sandbox_config_fields():
        lines.append(
            f"| `{name}` | {_cell(f'`{kind}`')} | {_cell(f'`{default}`')} | {_cell(note)} |"
        )
    return "\n".join(lines) + "\n"
