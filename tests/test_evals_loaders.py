"""Eval data loaders: each layout read right, each malformed row named by file, line, field."""

import json

import pytest
from evals_fixtures import aeslc_row, write_aeslc, write_jsonl, write_tsv

from evals.loaders import (
    DataError,
    detect_format,
    load_aeslc,
    load_api_jsonl,
    load_dataset,
    load_reply_tsv,
    near_copies,
    select,
)
from gateway.core.errors import GatewayError

SR_REQUEST = {"user_id": "u1", "message": {"from": "bob@example.com", "subject": "Thursday",
                                           "body": "Can we move Thursday to Friday?"}}


def test_reply_tsv_pairs_become_smart_reply_requests(tmp_path):
    ds = load_reply_tsv(write_tsv(tmp_path / "pairs.tsv"))
    assert ds.format == "reply-tsv" and len(ds.examples) == 6
    ex = ds.examples[0]
    assert ex.id == "pairs-1"
    assert ex.request["message"]["body"] == "Can we move our meeting to Friday at 3pm?"
    assert ex.references == ["Friday at 3pm works for me."]
    assert len(ds.files["data"]["sha256"]) == 64 and ds.files["data"]["rows"] == 6


@pytest.mark.parametrize("line,field", [
    ("only one column\n", "reply"),
    ("a\tb\tc\n", "message"),
])
def test_reply_tsv_malformed_row_names_file_line_field(tmp_path, line, field):
    path = tmp_path / "bad.tsv"
    path.write_text("fine message\tfine reply\n" + line)
    with pytest.raises(DataError) as err:
        load_reply_tsv(path)
    assert isinstance(err.value, GatewayError)
    assert f"{path}:2:" in err.value.message and f"'{field}'" in err.value.message
    assert err.value.line == 2 and err.value.field == field


def test_reply_tsv_blank_pairs_are_skipped_and_noted(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("hi\thello\n   \treply\nmessage\t  \nbye\tsee you\n")
    ds = load_reply_tsv(path)
    assert [e.id for e in ds.examples] == ["p-1", "p-4"]
    assert ds.notes == ["skipped 2 pairs with a blank message or reply (lines 2, 3)"]


def test_api_jsonl_with_history_and_references(tmp_path):
    path = write_jsonl(tmp_path / "ex.jsonl", [
        {"id": "a", "request": SR_REQUEST, "references": ["Friday works."],
         "history": [{"id": "h1", "kind": "sent_reply", "text": "Sure, works for me.",
                      "context": "Can we meet?"}]},
        {"request": {**SR_REQUEST, "user_id": "u2"}, "references": ["No.", "Nope."]},
    ])
    ds = load_api_jsonl(path, "smart-replies")
    assert [e.id for e in ds.examples] == ["a", "line-2"]
    assert ds.examples[0].user == "u1" and ds.examples[1].user is None
    assert ds.histories == {"u1": [{"id": "h1", "kind": "sent_reply", "text": "Sure, works for me.",
                                    "context": "Can we meet?"}]}
    assert ds.examples[0].request["message"]["from"] == "bob@example.com"
    assert ds.examples[1].references == ["No.", "Nope."]


@pytest.mark.parametrize("row,field", [
    ("{not json", None),
    ({"request": SR_REQUEST}, "references"),
    ({"request": SR_REQUEST, "references": []}, "references"),
    ({"request": {**SR_REQUEST, "n": 99}, "references": ["x"]}, "request.n"),
    ({"request": {**SR_REQUEST, "bogus": 1}, "references": ["x"]}, "request.bogus"),
    ({"references": ["x"]}, "request"),
    ({"request": SR_REQUEST, "references": ["x"], "extra": 1}, "extra"),
    ({"request": SR_REQUEST, "references": ["x"], "history": [{"id": "h", "kind": "tweet",
                                                               "text": "t"}]}, "history.0.kind"),
])
def test_api_jsonl_malformed_row_names_line_and_field(tmp_path, row, field):
    path = write_jsonl(tmp_path / "ex.jsonl",
                       [{"request": SR_REQUEST, "references": ["ok"]}, row])
    with pytest.raises(DataError) as err:
        load_api_jsonl(path, "smart-replies")
    assert f"{path}:2:" in err.value.message
    assert err.value.field == field
    if row == "{not json":
        assert "invalid JSON" in err.value.message


def test_api_jsonl_duplicate_ids_rejected(tmp_path):
    row = {"id": "same", "request": SR_REQUEST, "references": ["x"]}
    with pytest.raises(DataError, match="duplicate id"):
        load_api_jsonl(write_jsonl(tmp_path / "ex.jsonl", [row, row]), "smart-replies")


def test_aeslc_examples_need_author_history_and_carry_all_references(tmp_path):
    ds = load_aeslc(write_aeslc(tmp_path))
    # bob has 9 train sent emails (< 10); the inbox email is not the user's writing.
    assert [e.id for e in ds.examples] == ["alice-a_sent_100", "alice-a_sent_101"]
    ex = ds.examples[0]
    assert ex.user == "alice-a"
    assert ex.request == {"user_id": "alice-a", "n": 3,
                          "campaign": {"body": aeslc_row(100, "alice-a")["body"]}}
    assert ex.references == ["Gas contract 100", "contract review", "gas contract", "review"]
    assert set(ds.histories) == {"alice-a"} and len(ds.histories["alice-a"]) == 10
    assert ds.histories["alice-a"][0] == {
        "id": "aeslc-alice-a_sent_0", "kind": "sent_email",
        "text": aeslc_row(0, "alice-a")["body"],
        "subject": "Gas contract 0"}
    assert set(ds.files) == {"data", "history"}


@pytest.mark.parametrize("broken,field", [
    ({"subject": None}, "subject"),
    ({"folder": "drafts"}, "folder"),
    ({"annotations": "one"}, "annotations"),
])
def test_aeslc_malformed_row_names_line_and_field(tmp_path, broken, field):
    dev = write_aeslc(tmp_path)
    rows = dev.read_text().splitlines()
    bad = {**json.loads(rows[2]), **broken}
    rows[2] = json.dumps(bad)
    dev.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        load_aeslc(dev)
    assert f"{dev}:3:" in err.value.message and err.value.field == field


def test_aeslc_missing_field_and_missing_train_file(tmp_path):
    dev = write_aeslc(tmp_path)
    row = aeslc_row(5, "alice-a")
    del row["body"]
    write_jsonl(dev.with_name("train.jsonl"), [row])
    with pytest.raises(DataError, match=r"train.jsonl:1: field 'body': missing"):
        load_aeslc(dev)
    dev.with_name("train.jsonl").unlink()
    with pytest.raises(DataError, match="--history"):
        load_aeslc(dev)


def test_format_detection_and_task_mismatch(tmp_path):
    tsv = write_tsv(tmp_path / "p.tsv")
    dev = write_aeslc(tmp_path)
    api = write_jsonl(tmp_path / "a.jsonl", [{"request": SR_REQUEST, "references": ["x"]}])
    assert detect_format(tsv) == "reply-tsv"
    assert detect_format(dev) == "aeslc"
    assert detect_format(api) == "api-jsonl"
    assert load_dataset("subject-lines", dev).format == "aeslc"
    with pytest.raises(DataError, match="persona eval smart-replies"):
        load_dataset("subject-lines", tsv)
    with pytest.raises(DataError, match="persona eval subject-lines"):
        load_dataset("smart-replies", dev)
    with pytest.raises(DataError, match="not found"):
        load_dataset("smart-replies", tmp_path / "missing.jsonl")


def test_select_is_a_seeded_sample_in_file_order(tmp_path):
    examples = load_reply_tsv(write_tsv(tmp_path / "p.tsv")).examples
    a = select(examples, 3, seed=1)
    assert a == select(examples, 3, seed=1)
    assert len(a) == 3 and [examples.index(e) for e in a] == sorted(examples.index(e) for e in a)
    assert select(examples, None, seed=1) == examples
    assert select(examples, 100, seed=1) == examples


def test_aeslc_history_cap_is_a_seeded_sample(tmp_path):
    dev = write_aeslc(tmp_path)
    a = load_aeslc(dev, history_cap=4, seed=1).histories["alice-a"]
    assert len(a) == 4 and a == load_aeslc(dev, history_cap=4, seed=1).histories["alice-a"]
    assert {i["id"] for i in a} <= {f"aeslc-alice-a_sent_{i}" for i in range(10)}
    assert len(load_aeslc(dev, history_cap=0).histories["alice-a"]) == 10
    # eligibility counts every train email, not the capped sample
    assert len(load_aeslc(dev, history_cap=4).examples) == 2


def test_near_copies_by_trigram_overlap():
    # "please send the gas report today" vs a quoted copy: 4 of 4 trigrams shared
    hist = ["Fwd: please send the gas report today. Thanks", "Lunch on Friday with the team?",
            "please send the"]
    assert near_copies(hist, ["Please send the gas report today"]) == {0, 2}
    assert near_copies(hist, ["Completely unrelated words here"]) == set()


def test_aeslc_history_leaves_out_copies_of_eval_emails(tmp_path):
    dev = write_aeslc(tmp_path)
    train = dev.with_name("train.jsonl")
    rows = [json.loads(x) for x in train.read_text().splitlines()]
    # alice re-sent eval email 100 (same body) in train, under the same subject
    rows.append(aeslc_row(100, "alice-a", id="alice-a_sent_900"))
    write_jsonl(train, rows)
    kept = {i["id"] for i in load_aeslc(dev).histories["alice-a"]}
    assert "aeslc-alice-a_sent_900" not in kept and len(kept) == 10
    assert "aeslc-alice-a_sent_900" in {i["id"] for i in
                                        load_aeslc(dev, dedup=False).histories["alice-a"]}
