"""docs/CONFIGURATION.md lists every setting: each `Settings` field as its `CRYPTO_*`
variable, and each environment variable a `crypto` option reads, and no variable that the
code no longer has."""

import re
from pathlib import Path

import typer

from crypto_service.cli import app
from crypto_service.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "CONFIGURATION.md"


def documented() -> set[str]:
    """The variables in the first cell of the page's table rows."""
    names: set[str] = set()
    for line in DOC.read_text().splitlines():
        if line.startswith("| `CRYPTO_"):
            names.update(re.findall(r"`(CRYPTO_[A-Z0-9_]+)`", line.split("|")[1]))
    return names


def cli_environment_variables() -> set[str]:
    found: set[str] = set()
    commands = [typer.main.get_command(app)]
    while commands:
        command = commands.pop()
        commands.extend(getattr(command, "commands", {}).values())
        for param in command.params:
            envvars = param.envvar if isinstance(param.envvar, (list, tuple)) else [param.envvar]
            found.update(v for v in envvars if v)
    return found


def settings_variables() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def test_every_setting_has_a_row():
    missing = sorted(settings_variables() - documented())
    assert not missing, f"docs/CONFIGURATION.md has no row for {', '.join(missing)}: " \
        "add one (variable, default, meaning) to its table"


def test_every_variable_a_command_reads_has_a_row():
    missing = sorted(cli_environment_variables() - documented())
    assert not missing, f"docs/CONFIGURATION.md has no row for {', '.join(missing)}"


def test_no_row_names_a_variable_the_code_does_not_read():
    stale = sorted(documented() - settings_variables() - cli_environment_variables())
    assert not stale, f"docs/CONFIGURATION.md documents {', '.join(stale)}, which nothing reads"
