"""Every file of the conformance corpus names where it came from and under which licence."""

from __future__ import annotations

from pathlib import Path

import yaml

CORPUS = Path(__file__).parent / "corpus"
#: Licences a copied message may come under (corpus/MANIFEST.yaml `licence`).
OPEN_LICENCES = {"MIT", "Apache-2.0", "BSD-3-Clause", "CC0-1.0", "CC-BY-4.0", "MPL-2.0"}


def test_each_corpus_file_has_its_provenance_and_an_open_licence() -> None:
    entries = yaml.safe_load((CORPUS / "MANIFEST.yaml").read_text(encoding="utf-8"))
    listed = {entry["file"]: entry for entry in entries}
    on_disk = {
        f"{kind}/{path.name}" for kind in ("hl7", "fhir") for path in (CORPUS / kind).iterdir()
    }

    assert sorted(on_disk - listed.keys()) == []
    assert sorted(listed.keys() - on_disk) == []
    for name, entry in listed.items():
        assert entry["repository"] and entry["commit"] and entry["path"], name
        assert entry["licence"] in OPEN_LICENCES, (name, entry["licence"])
