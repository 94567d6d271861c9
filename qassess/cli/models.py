"""`qassess models`: the model presets, and downloading one."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from qassess.cli.app import app, say, user_errors
from qassess.errors import UserError


@app.command("models")
@user_errors
def models_command(
    download: Optional[str] = typer.Option(None, "--download", metavar="NAME", help="Fetch this preset into the local Hugging Face cache."),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --download: print the download command only."),
    presets: Optional[Path] = typer.Option(None, "--presets", envvar="QASSESS_PRESETS", help="A YAML file of your own presets."),
    output_format: str = typer.Option("text", "--format", help="text, or json (every field, prompts' sources included)."),
    as_json: bool = typer.Option(False, "--json", hidden=True),  # the old spelling of --format json
):
    """List model presets (name, what it is, licence, source), or download one.

    \b
    Examples:
      qassess models
      qassess models --download q-insight            # then: qassess score ./photos --model q-insight
      qassess models --download visualquality-r1 --dry-run
    A preset's prompt and sampling are copied from its authors' released inference code.
    """
    import dataclasses
    import json

    from qassess import models
    from qassess.models.presets import all_presets, get_preset

    if download is None:
        table = all_presets(presets)
        if output_format not in ("text", "json"):
            raise UserError(f"--format must be text or json, not {output_format!r}")
        if as_json or output_format == "json":
            print(json.dumps([dataclasses.asdict(p) for p in table.values()], indent=2))
            return
        for p in table.values():
            where = "packaged" if p.packaged else (p.hub_id or p.model)
            if p.subfolder:
                where += f" ({p.subfolder}/)"
            cached = ""
            if p.hub_id:
                folder, _ = models.cached_snapshot(p.hub_id, p.revision, p.subfolder)
                cached = ", cached" if folder else ", not downloaded"
            src = p.source or {}
            src_text = " ".join(str(src[k]) for k in ("repo", "file") if src.get(k))
            if src.get("commit"):
                src_text += f" @ {str(src['commit'])[:12]}"
            print(f"{p.name}{' (user)' if p.user else ''}: {p.summary}\n"
                  f"    model {where}{cached}; template {p.template}; licence {p.licence}\n"
                  f"    prompt source: {src_text or 'n/a'}; paper: {p.paper or 'n/a'}")
        return
    preset = get_preset(download, presets)
    if preset is None:
        raise UserError(f"unknown preset {download!r}; `qassess models` lists them")
    if dry_run:
        print(preset.download_command() or f"{preset.name}: nothing to download ({preset.model})")
        return
    folder = models.download(preset, log=say)
    say(f"{preset.name}: in the local cache at {folder}; qassess score ... --model {preset.name}")
