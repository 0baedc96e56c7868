"""``newremora import-inventory FILE``: the import of POST /api/v1/inventories/import, from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path

from app.db import Database
from app.inventories.importer import import_inventory
from app.inventories.parse import InventoryFormat, parse_inventory
from app.vault import Vault


def import_file(
    database: Database, vault: Vault, key_dir: Path | None, file: str, fmt: InventoryFormat, dry_run: bool
) -> int:
    """Prints one line per host; exit code 0 when every host imported, 1 when some were skipped. ``database`` is
    the service's, opened by the caller (app/admin.py)."""
    text = sys.stdin.read() if file == "-" else Path(file).read_text()
    parsed = parse_inventory(text, fmt)
    result = database.call(import_inventory, vault, parsed, key_dir, dry_run)
    for label, outcomes in (("created", result.created), ("updated", result.updated), ("unchanged", result.unchanged)):
        for host in outcomes:
            detail = f" ({', '.join(host.changes)})" if host.changes else ""
            print(f"{label:<9} {host.name}{detail}")
    for name, reason in result.skipped:
        print(f"skipped   {name}: {reason}")
    if result.groups_created:
        print("groups created: " + ", ".join(result.groups_created))
    counts = f"{len(result.created)} created, {len(result.updated)} updated, {len(result.unchanged)} unchanged"
    print(f"{counts}, {len(result.skipped)} skipped" + (" (dry run: nothing saved)" if dry_run else ""))
    return 1 if result.skipped else 0
