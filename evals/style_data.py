"""Style-attribution data: PanzaMail writers, split for a classifier and k-fold history.

PanzaMail (github IST-DASLab/PanzaMail, Apache-2.0) ships the sent emails of three
writers, one JSONL file each (``david.jsonl``, ``isabel.jsonl``, ``marcus.jsonl``;
fields ``email`` and ``subject``). The writer is the file's stem.

Per writer, a seeded half of the emails trains the style classifier and the other half
is held out (the classifier's accuracy is measured there). The held-out emails are the
prompts: they are split into ``folds`` folds, and a held-out email of fold ``f`` is asked
of user ``<writer>-k<folds>f<f>``, whose history is every other email of that writer (the
classifier's half and the other folds). The request is a smart reply to a message whose
subject and body are the held-out email's subject (the message it answered is not in the
data; its subject carries little of the writer's own text), and the reference is the
email itself.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

from evals.loaders import DataError, Dataset, Example, _file_info, _json_object, _lines

# A person, as personal mail comes from (a role mailbox such as colleague@ gets no name
# in the greeting). The name is in none of the PanzaMail emails.
SENDER = "Jordan Quinn <jordan.quinn@example.com>"
# Masked like the writers' names: the same sender greets every writer in every variant,
# so its letters are no writer's style (with "Colleague" unmasked, they moved attribution).
SENDER_NAMES = ("Jordan", "Quinn")
DEFAULT_FOLDS = 5
# The users of a style run are one person per writer, k times over (one user per fold,
# each holding the writer's other emails). The tenant response set counts them as k
# distinct users, so with k >= its threshold a writer's own short replies ("...
# Best, Isabel") would enter the set and be served to everyone, "plain" included: the
# baseline would carry personal text. The in-process gateway of a style run has it off.
STYLE_SETTINGS = {"smart_reply_shared_min_users": 0}
MIN_EMAILS = 4


@dataclass
class Writers:
    """Emails per writer, in file order: each ``{"line", "email", "subject"}``."""

    emails: dict[str, list[dict]]
    files: dict[str, dict] = field(default_factory=dict)  # role -> {path, sha256, rows}


def load_panza(path: Path) -> Writers:
    """Every ``*.jsonl`` of the directory, one writer each (at least two writers)."""
    if not path.is_dir():
        raise DataError("not a directory; pass the PanzaMail directory (one <writer>.jsonl "
                        "per writer) with --data", path=path)
    emails: dict[str, list[dict]] = {}
    files: dict[str, dict] = {}
    for f in sorted(path.glob("*.jsonl")):
        rows = []
        for n, line in _lines(f):
            row = _json_object(f, n, line)
            for name in ("email", "subject"):
                if not isinstance(row.get(name), str):
                    raise DataError("missing or not a string", path=f, line=n, field=name)
            if not row["email"].strip():
                raise DataError("blank email", path=f, line=n, field="email")
            rows.append({"line": n, "email": row["email"].replace("\r\n", "\n").strip(),
                         "subject": " ".join(row["subject"].split())})
        if len(rows) < MIN_EMAILS:
            raise DataError(f"{len(rows)} emails; a writer needs at least {MIN_EMAILS}", path=f)
        emails[f.stem] = rows
        files[f.stem] = _file_info(f, len(rows))
    if len(emails) < 2:
        raise DataError("fewer than two <writer>.jsonl files; attribution needs at least two "
                        "writers", path=path)
    digest = hashlib.sha256("".join(i["sha256"] for i in files.values()).encode()).hexdigest()
    files = {"data": {"path": str(path), "sha256": digest,
                      "rows": sum(i["rows"] for i in files.values())}, **files}
    return Writers(emails=emails, files=files)


@dataclass
class StyleSplit:
    """What the style eval runs: the classifier's data, the requests and their histories."""

    dataset: Dataset
    examples: list[Example]  # the sampled held-out emails (``--limit`` per writer)
    train: list[tuple[str, str]]  # (writer, email) the classifier learns from
    test: list[tuple[str, str]]  # (writer, email) its held-out accuracy is measured on
    writer_of: dict[str, str]  # user id -> writer


def _history_item(writer: str, row: dict) -> dict:
    item = {"id": f"{writer}-{row['line']}", "kind": "sent_reply", "text": row["email"]}
    if row["subject"]:
        item["context"] = row["subject"]
    return item


def split(writers: Writers, *, folds: int = DEFAULT_FOLDS, limit: int | None = None,
          seed: int = 0) -> StyleSplit:
    if folds < 2:
        raise DataError("--folds must be at least 2")
    examples: list[Example] = []
    histories: dict[str, list[dict]] = {}
    train: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    writer_of: dict[str, str] = {}
    skipped = 0
    for writer, rows in writers.emails.items():
        order = list(range(len(rows)))
        random.Random(f"{seed}:{writer}").shuffle(order)
        half = len(order) // 2
        train += [(writer, rows[i]["email"]) for i in order[:half]]
        held = order[half:]
        test += [(writer, rows[i]["email"]) for i in held]
        fold_of = {i: k % folds for k, i in enumerate(held)}
        prompts = [i for i in held if rows[i]["subject"]]
        skipped += len(held) - len(prompts)
        if limit is not None and limit < len(prompts):
            prompts = random.Random(f"{seed}:{writer}:limit").sample(prompts, limit)
        for i in sorted(prompts):
            f = fold_of[i]
            user = f"{writer}-k{folds}f{f}"
            writer_of[user] = writer
            if user not in histories:
                histories[user] = [_history_item(writer, rows[j]) for j in range(len(rows))
                                   if fold_of.get(j) != f]
            row = rows[i]
            request = {"user_id": user, "n": 3,
                       "message": {"from": SENDER, "subject": row["subject"],
                                   "body": row["subject"]}}
            examples.append(Example(id=f"{writer}-{row['line']}", request=request,
                                    references=[row["email"]], user=user))
    notes = [(f"PanzaMail writers {', '.join(writers.emails)}: half of each writer's emails "
             f"train the style classifier; the other half are prompts, {folds}-fold (history: "
             "every other email of the writer)")]
    if skipped:
        notes.append(f"{skipped} held-out emails without a subject are not prompts")
    ds = Dataset(task="smart-replies", format="panza", examples=examples, histories=histories,
                 files=writers.files, notes=notes)
    return StyleSplit(dataset=ds, examples=examples, train=train, test=test,
                      writer_of=writer_of)
