"""The audit summary's one rule, without a database: secrets by name at any depth, long text cut, a huge summary
reduced to its field names."""

from __future__ import annotations

import json

from app import audit


def test_secrets_show_only_as_markers_at_any_depth_and_cleared_ones_as_null() -> None:
    given = {
        "name": "web-01",
        "password": "hunter2-secret",
        "private_key": None,
        "extra_vars": {"db_password": "nested-secret", "hosts": [{"api_token": "t0k3n", "port": 5432}]},
        "content": "[all]\nh ansible_password=inventory-secret",
    }
    created = audit.summarize(given, changed=False)
    assert created == {
        "name": "web-01",
        "password": "(set)",
        "private_key": None,
        "extra_vars": {"db_password": "(set)", "hosts": [{"api_token": "(set)", "port": 5432}]},
        "content": "(set)",
    }
    assert audit.summarize({"become_password": "x"}, changed=True) == {"become_password": "(changed)"}
    assert not audit.is_secret("key_id") and not audit.is_secret("pem_file_url") and audit.is_secret("Passphrase")


def test_long_text_is_cut_and_a_huge_summary_keeps_its_field_names() -> None:
    script = "echo hi\n" * 100
    cut = audit.summarize({"script": script}, changed=False)["script"]
    assert cut.startswith("echo hi\n") and cut.endswith(f"({len(script)} characters)") and len(cut) < 250
    huge = audit.summarize({"extra_vars": {f"v{n}": n for n in range(5000)}, "playbook": "p.yml"}, changed=False)
    stored = json.loads(audit._summary_text(huge) or "null")
    assert stored["fields"] == ["extra_vars", "playbook"] and "omitted" in stored
