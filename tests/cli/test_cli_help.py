"""Every command's --help at 80 columns reads cleanly: metavars instead of type labels
(`<int range>`, `<list[str]>`), no stray ` .`, no summary cut short, no line too long."""

import re

import pytest
import typer
from typer.testing import CliRunner

from crypto_service.cli import app


def command_paths() -> list[list[str]]:
    paths, todo = [], [([], typer.main.get_command(app))]
    while todo:
        path, command = todo.pop()
        paths.append(path)
        todo.extend((path + [name], sub) for name, sub in getattr(command, "commands", {}).items())
    return sorted(paths)


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "crypto")
def test_help_is_clean(path):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert not re.search(r"<[a-z]", text), text  # `<int>`, `<list[str]>` (ranges `1<=x` stay)
    assert " ." not in text and "…" not in text, text
    cut = [line for line in text.splitlines()
           if line.endswith("...") and not line.startswith("Usage:")]
    assert not cut, cut  # a command's summary cut short in the list
    assert max(map(len, text.splitlines())) <= 80, text
