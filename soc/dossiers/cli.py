"""`soc validate`: load every playbook and list every problem as `file:line: what`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from soc.dossiers.library import BUNDLED, playbook_files, read_library
from soc.settings import Settings

SUMMARY = {
    "en": "{n} playbooks valid: {names}",
    "vi": "{n} playbook hợp lệ: {names}",
}
FAILED = {
    "en": "{n} problems in the playbooks",
    "vi": "{n} lỗi trong các playbook",
}


@click.command("validate")
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def validate_command(ctx: click.Context, folder: Path | None) -> None:
    """Check every playbook (default: SOC_PLAYBOOKS_DIR or the bundled playbooks/) and list all problems."""
    settings: Settings = ctx.obj["settings"]
    folder = folder or (Path(settings.playbooks_dir) if settings.playbooks_dir else BUNDLED)
    lang = settings.lang
    library, problems = read_library(folder)
    for found in problems:
        click.echo(found.render(lang), err=True)
    if problems:
        click.echo(FAILED[lang].format(n=len(problems)), err=True)
        sys.exit(1)
    if not playbook_files(folder):
        click.echo(f"{folder}: no playbooks (*.yml)", err=True)
        sys.exit(1)
    click.echo(SUMMARY[lang].format(n=len(library.playbooks), names=", ".join(sorted(library.playbooks))))
