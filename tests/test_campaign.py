"""python -m lib campaign: runs resumably, writes each seed's summary as soon as it is done, reports what remains."""
import pytest

from lib import campaign, protocol, summary


@pytest.mark.slow
def test_interrupted_campaign_resumes_and_keeps_the_first_seed(tmp_path):
    store, out = tmp_path / "store", tmp_path / "out"
    first = campaign.run("smoke", store=str(store), out=out, stop_after=1, progress=lambda m: None)
    assert len(first) == 1
    before = first[0].read_bytes()
    st = campaign.status("smoke", store=str(store), out=out)
    assert st["rows"][0]["done"] == [0] and st["rows"][0]["pending"] == [1] and st["total_s"] > 0
    again = campaign.run("smoke", store=str(store), out=out, progress=lambda m: None)
    assert [p.name for p in again] != [first[0].name] and len(again) == 1  # only the missing seed
    assert first[0].read_bytes() == before  # the finished seed's summary is not rewritten
    found, bad = summary.load_all(out)
    assert not bad and sorted(summary.config(s).seed for s in found) == [0, 1]
    s = found[0]
    assert s["meta"]["protocol"] == protocol.stamp() and s["meta"]["campaign"] == "smoke"
    assert s["meta"]["campaign_s"] > 0 and s["meta"]["arithmetic"]
    assert campaign.status("smoke", store=str(store), out=out)["total_s"] == 0


@pytest.mark.slow
def test_chaos_campaign_stores_both_kinds_of_copy(tmp_path):
    from lib import instability as I
    out = campaign.run("smoke-chaos", store=str(tmp_path / "store"), out=tmp_path / "out", progress=lambda m: None)
    s = summary.read(out[0])
    kinds = set(s["copies"][:, I.COLUMNS.index("kind")].tolist())
    assert kinds == {0.0, 1.0} and s["meta"]["copies"] == list(I.COLUMNS)


def test_unknown_campaign_names_the_choices():
    with pytest.raises(ValueError, match="confirmatory"):
        campaign.entries("everything")
