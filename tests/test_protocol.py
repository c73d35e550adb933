"""The claims registry (protocol/claims.toml) is the protocol: the code's constants equal it, and it
cannot change without a new version."""
import shutil

import pytest

from lib import protocol

REQUIRED = ("id", "name", "family", "paper", "words", "primary", "replicate", "test", "margins", "holds", "fails")


def test_registry_and_code_agree():
    assert protocol.check() == []


def test_every_claim_is_complete_and_every_margin_has_a_source():
    reg = protocol.load()
    for c in protocol.claims():
        missing = [k for k in REQUIRED if k not in c]
        assert not missing, f"claim {c.get('id')}: missing {missing}"
        assert c["family"] in protocol.FAMILIES
        if c["family"] == "papers":
            assert c["words"], f"claim {c['id']} quotes no words of the papers"
            assert c["paper"] in ("workshop", "extended")
    for name, k in protocol.constants().items():
        assert k["kind"] in ("papers", "anchor", "surrogates", "convention"), name
        assert len(k["source"]) > 20, f"{name}: no source"
    assert reg["protocol"]["confirmatory_seeds"] and not set(reg["protocol"]["confirmatory_seeds"]) & set(
        reg["protocol"]["exploratory_seeds"])


def test_a_constant_changed_in_lib_is_reported(monkeypatch):
    from lib import saturation
    monkeypatch.setattr(saturation, "GROWTH_FLAT", 1.5)
    problems = protocol.check()
    assert any("GROWTH_FLAT" in p and "1.5" in p for p in problems)


def test_an_edit_without_a_new_version_is_reported(tmp_path):
    path = tmp_path / "claims.toml"
    shutil.copy(protocol.PATH, path)
    text = path.read_text().replace("value = 1.4\n", "value = 1.3\n", 1)
    path.write_text(text)
    reg = protocol.load(path)
    problems = protocol.check(reg)
    assert any("changed without a new version" in p for p in problems)
    assert any("GROWTH_FLAT" in p for p in problems)  # and lib's value no longer agrees


def test_content_hash_ignores_the_changelog_only(tmp_path):
    path = tmp_path / "claims.toml"
    shutil.copy(protocol.PATH, path)
    path.write_text(path.read_text().replace('moved = "Not applicable', 'moved = "Still not applicable', 1))
    assert protocol.content_hash(protocol.load(path)) == protocol.content_hash()


def test_unknown_claim_names_the_valid_ids():
    with pytest.raises(ValueError, match="cone"):
        protocol.claim("konus")


def test_holm_matches_the_step_down_rule():
    adj = protocol.holm([0.01, 0.04, None, 0.03])
    assert adj[2] is None
    assert adj[0] == pytest.approx(0.03) and adj[3] == pytest.approx(0.06) and adj[1] == pytest.approx(0.06)
