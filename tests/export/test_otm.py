"""The Open Threat Model export: valid against the published OTM 0.2.0 schema, and imported back to the catalogue
it came from, in every deployment variant."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from dataflow.catalogue import BUILTIN_MODELS, load_catalogue
from dataflow.graph import build_graph
from parsec_tm.cli import main
from parsec_tm.export.otm import catalogue_from_otm, to_otm
from parsec_tm.export.schema import OTM_SCHEMA, load_schema

VARIANTS = [(model, v.id) for model in BUILTIN_MODELS for v in load_catalogue(model=model).variants]
"""Every deployment of every built-in model: the seed's two, the current revision's configurations."""


@pytest.mark.parametrize(("model", "variant"), VARIANTS)
def test_the_export_is_valid_otm_and_round_trips(model: str, variant: str) -> None:
    catalogue = load_catalogue(model=model).variant(variant)
    document = json.loads(json.dumps(to_otm(catalogue, build_graph(catalogue))))
    jsonschema.Draft7Validator(load_schema(OTM_SCHEMA)).validate(document)
    assert catalogue_from_otm(document) == catalogue


def test_threats_mitigations_and_dataflows_are_native_otm() -> None:
    catalogue = load_catalogue()
    document = to_otm(catalogue, build_graph(catalogue))
    threat = next(t for t in document["threats"] if t["id"] == "A1-T-1")
    assert threat["categories"] == ["Tampering"]
    request = next(f for f in document["dataflows"] if f["source"] == "client_library")
    instance = next(i for i in request["threats"] if i["threat"] == "A1-T-1")
    assert instance["mitigations"] == [{"mitigation": "M-3", "state": "implemented"}]
    assert {m["id"] for m in document["mitigations"]} == {m.id for m in catalogue.mitigations}
    zones = {z["id"]: z["risk"]["trustRating"] for z in document["trustZones"]}
    assert zones["trusted"] > zones["non-trusted"]
    components = {c["id"] for c in document["components"]}
    assert all({f["source"], f["destination"]} <= components for f in document["dataflows"])


def test_the_schema_rejects_what_otm_forbids() -> None:
    catalogue = load_catalogue()
    document = to_otm(catalogue, build_graph(catalogue))
    del document["threats"][0]["risk"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(load_schema(OTM_SCHEMA)).validate(document)


def test_a_changed_export_imports_as_a_changed_catalogue() -> None:
    catalogue = load_catalogue()
    document = to_otm(catalogue, build_graph(catalogue))
    document["threats"][0]["description"] = "changed in a threat-modelling tool"
    imported = catalogue_from_otm(document)
    assert imported.threats[0].description == "changed in a threat-modelling tool"
    document["threats"][0]["categories"] = ["Repudiation"]
    with pytest.raises(ValueError, match="STRIDE"):
        catalogue_from_otm(document)


def test_the_command_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "parsec.otm.json"
    assert main(["export", "--format", "otm", "--variant", "no-idp", "--out", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["otmVersion"] == "0.2.0"
    assert len(document["threats"]) == len(load_catalogue().variant("no-idp").threats)
