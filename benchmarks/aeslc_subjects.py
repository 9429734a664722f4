"""Tune and measure subject lines on AESLC (Enron emails with their subjects).

For each dev ``sent`` email whose author has >= 10 ``sent`` emails in train, that
author's train emails are ingested as ``sent_email`` history (body as ``text``,
subject as ``subject``); the use case writes a subject for the dev body; ROUGE-1/2/L
F1 (rouge-score, stemmed) is taken against the original subject and as the max over
the three annotators' subjects. Configurations, on the same examples:

- ``personalized``: the full pipeline with the author's history;
- ``plain``:        the full pipeline without history (non-personalized);
- ``rules``:        rules/extractive only (history reuse + body phrases), no model;
- ``rules_plain``:  body phrases only;
- ``model``:        the model's own lines only, personalized prompt.

Usage (the data stays where it is; nothing is copied into the project)::

    python benchmarks/aeslc_subjects.py /path/to/aeslc --limit 150 \
        --embedder minilm --model local --cache /tmp/aeslc_llm.json --out results.json

``--model replay --cache FILE`` re-serves the model lines recorded by an earlier
``--model local`` run, so ranking weights can be tuned in seconds
(``--weights relevance=1,authorship=1.5``). ``--embedder hash`` is for quick checks
only. Runs are slow on shared CPUs; keep ``--limit`` modest.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONFIGS = {  # name -> GenerationPolicy fields (gateway/usecases/policy.py)
    "personalized": {},
    "plain": {"personalize": False},
    "rules": {"use_model": False},
    "rules_plain": {"use_model": False, "personalize": False},
    "model": {"fill_with_rules": False},
}
MIN_HISTORY = 10
TENANT = "aeslc-bench"
AUTHOR_SEED = 18  # the held-out author draw (author_split)
TRAIN_QUERY_SHARE = 0.2  # --split train: share of an author's train emails used as queries
TRAIN_QUERY_MAX = 40  # ... at most this many per author, so a few heavy writers do not rule


def _rows(data_dir: Path, name: str) -> list[dict]:
    with open(data_dir / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _usable(r: dict) -> bool:
    return r["folder"] == "sent" and bool(r["body"].strip()) and bool(r["subject"].strip())


def author_split(data_dir: Path, seed: int = AUTHOR_SEED) -> tuple[set[str], set[str]]:
    """(fit authors, held-out authors). The held-out authors are a seeded draw of the
    dev-eligible authors (>= MIN_HISTORY train ``sent`` emails) holding about half of
    the eligible dev emails; every other train author may be used for fitting. Weights
    fitted on ``fit`` authors' train emails are judged on held-out authors' dev emails:
    neither the emails nor their authors were seen."""
    train = Counter(r["user"] for r in _rows(data_dir, "train.jsonl") if _usable(r))
    dev = Counter(r["user"] for r in _rows(data_dir, "dev.jsonl")
                  if _usable(r) and train.get(r["user"], 0) >= MIN_HISTORY)
    order = sorted(dev)
    random.Random(seed).shuffle(order)
    held: set[str] = set()
    for u in order:
        if sum(dev[h] for h in held) >= sum(dev.values()) / 2:
            break
        held.add(u)
    return set(train) - held, held


def load(data_dir: Path, limit: int, offset: int, seed: int, *, split: str = "dev",
         authors: set[str] | None = None):
    """(examples, author -> history rows, eligible); examples sampled reproducibly.

    ``split="dev"``: dev ``sent`` emails, each author's train ``sent`` emails as history.
    ``split="train"``: dev is never read; per train author with enough emails, a seeded
    TRAIN_QUERY_SHARE of their train ``sent`` emails (at most TRAIN_QUERY_MAX) are the
    queries and the rest their history. ``authors``: only these authors' examples."""
    history: dict[str, list[dict]] = defaultdict(list)
    for r in _rows(data_dir, "train.jsonl"):
        if _usable(r):
            history[r["user"]].append(r)
    if split == "train":
        pool: list[dict] = []
        for u in sorted(history):
            rows = sorted(history[u], key=lambda r: r["id"])
            random.Random(f"{seed}:{u}").shuffle(rows)
            k = min(TRAIN_QUERY_MAX, round(len(rows) * TRAIN_QUERY_SHARE))
            if len(rows) - k < MIN_HISTORY or k == 0:
                history[u] = rows
                continue
            pool += rows[:k]
            history[u] = rows[k:]
    else:
        pool = [r for r in _rows(data_dir, "dev.jsonl")
                if _usable(r) and len(history.get(r["user"], ())) >= MIN_HISTORY]
    if authors is not None:
        pool = [r for r in pool if r["user"] in authors]
    random.Random(seed).shuffle(pool)
    picked = pool[offset:offset + limit]
    return picked, {u: history[u] for u in {r["user"] for r in picked}}, len(pool)


def build(args):
    from gateway.core.offline import offline_env

    offline_env()
    from gateway.core.settings import LOCAL_MODEL, Settings, default_embedding_model
    from gateway.services import build_services, start_services
    from gateway.usecases.replies.prompt import warm_up_messages

    models = [LOCAL_MODEL] if args.model == "local" else ["fake/replay"]
    settings = Settings(
        data_dir=args.work_dir, models=models, rate_limit_per_minute=0,
        embedding_model="hash" if args.embedder == "hash" else default_embedding_model(),
        load_models=True, llm_timeout_s=max(args.deadline_ms / 1000.0, 1.0), llm_retries=0)
    services = build_services(settings)
    start_services(services, warm_up_prompt=warm_up_messages)
    return services


def ingest(services, tenant_id: int, history: dict[str, list[dict]]) -> None:
    from embeddings.items import HistoryItem

    for user, rows in sorted(history.items()):
        if services.history.count(tenant_id, user) >= len(rows):
            continue
        items = [HistoryItem(id=f"aeslc-{r['id']}", kind="sent_email",
                             text=r["body"].strip()[:20_000],
                             subject=r["subject"].strip()[:1000]) for r in rows]
        for i in range(0, len(items), 200):
            services.history.add(tenant_id, user, items[i:i + 200])
        print(f"  ingested {len(items)} emails of {user}", file=sys.stderr)


class Recorder:
    """Wraps the LLM client to record (local) or replay (cache) each completion."""

    def __init__(self, llm, cache: dict, replay: bool, fake=None):
        self.llm, self.cache, self.replay, self.key = llm, cache, replay, ""
        self.fake = fake

    def __getattr__(self, name):
        return getattr(self.llm, name)

    async def complete(self, messages, **kw):
        if self.replay:
            self.fake.reset()
            self.fake.enqueue(self.cache.get(self.key, ""))
        out = await self.llm.complete(messages, **kw)
        if not self.replay:
            self.cache[self.key] = out.text
        return out


def _trigrams(text: str) -> set[tuple[str, ...]]:
    w = re.findall(r"\w+", text.lower())
    return set(zip(w, w[1:], w[2:]))


class NoCopies:
    """Wraps the history so retrieval never returns a near-copy of the email being
    titled (a quoted, forwarded or re-sent copy in train leaks its subject): items
    sharing > 50% of the word trigrams of the shorter text are left out."""

    def __init__(self, history):
        self.history, self.body, self.dropped = history, "", 0

    def __getattr__(self, name):
        return getattr(self.history, name)

    def retrieve(self, *args, **kw):
        items = self.history.retrieve(*args, **kw)
        target = _trigrams(self.body)
        keep = []
        for it in items:
            g = _trigrams(f"{it.text} {it.context or ''}")
            if target and g and len(g & target) / min(len(g), len(target)) > 0.5:
                self.dropped += 1
                continue
            keep.append(it)
        return keep


def rouge_scores(pred: str, refs: list[str], scorer) -> dict[str, float]:
    orig = scorer.score(refs[0], pred)
    out = {f"orig_{k}": orig[k].fmeasure * 100 for k in ("rouge1", "rouge2", "rougeL")}
    ann = [scorer.score(a, pred) for a in refs[1:]] or [orig]
    for k in ("rouge1", "rouge2", "rougeL"):
        out[f"ann_{k}"] = max(s[k].fmeasure for s in ann) * 100
    return out


def parse_weights(spec: str | None):
    from gateway.usecases.subjects.rank import DEFAULT_WEIGHTS

    if not spec:
        return DEFAULT_WEIGHTS
    kv = dict(part.split("=") for part in spec.split(","))
    return dataclasses.replace(DEFAULT_WEIGHTS, **{k: float(v) for k, v in kv.items()})


async def run(args) -> dict:
    if args.model == "local":
        return await _run(args, None)
    # Replayed completions are served by the scripted test model (fake/*), installed here:
    # the gateway itself never serves it.
    from tests.fakes import fake_installed

    with fake_installed() as fake:
        return await _run(args, fake)


async def _run(args, fake) -> dict:
    from rouge_score import rouge_scorer

    from gateway.auth import get_or_create_tenant
    from gateway.schemas.subject_lines import Campaign, SubjectLineRequest
    from gateway.usecases.policy import GenerationPolicy
    from gateway.usecases.subject_lines import suggest_subject_lines
    from gateway.usecases.subjects import rank

    authors = None
    if args.authors != "all":
        fit_authors, held = author_split(args.data)
        authors = fit_authors if args.authors == "fit" else held
    examples, history, pool = load(args.data, args.limit, args.offset, args.seed,
                                   split=args.split, authors=authors)
    print(f"{len(examples)} of {pool} eligible {args.split} emails, {len(history)} authors",
          file=sys.stderr)
    services = build(args)
    tenant_id = get_or_create_tenant(services.db, TENANT)
    t0 = time.monotonic()
    ingest(services, tenant_id, history)
    print(f"  history ready in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.is_file() else {}
    recorder = Recorder(services.llm, cache, replay=args.model != "local",
                        fake=fake)
    services.llm = recorder
    no_copies = NoCopies(services.history) if args.dedup else None
    if no_copies is not None:
        services.history = no_copies
    weights = parse_weights(args.weights)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    captured: list = []
    real_features = rank.feature_matrix

    def capture(candidates, **kw):  # keeps every candidate's features for offline tuning
        feats, vecs = real_features(candidates, **kw)
        captured.append((feats, [c.text for c in candidates]))
        return feats, vecs

    rank.feature_matrix = capture
    pools: dict[str, list] = defaultdict(list)
    results: dict[str, dict] = {}
    rows: list[dict] = []
    for name in args.configs:
        policy = GenerationPolicy(**CONFIGS[name], subject_weights=weights)
        per, sources, reasons, lat, oracle = defaultdict(list), Counter(), Counter(), [], []
        for i, ex in enumerate(examples):
            recorder.key = f"{name if policy.fill_with_rules else 'personalized'}:{ex['id']}"
            req = SubjectLineRequest(user_id=ex["user"], campaign=Campaign(
                body=ex["body"].strip()[:50_000]), n=args.n, max_chars=args.max_chars,
                deadline_ms=args.deadline_ms)
            captured.clear()
            if no_copies is not None:
                no_copies.body = ex["body"]
            resp = await suggest_subject_lines(
                services=services, tenant_id=tenant_id, request=req, request_id=f"b{i}-{uuid.uuid4().hex[:12]}",
                tenant=TENANT, policy=policy)
            if captured:
                feats, texts = captured[-1]
                pools[name].append({"id": ex["id"], "user": ex["user"],
                                    "features": feats.tolist(), "rouge1": [
                    scorer.score(ex["subject"], t)["rouge1"].fmeasure * 100 for t in texts]})
            top = resp.subject_lines[0]
            refs = [ex["subject"]] + list(ex.get("annotations") or [])
            for k, v in rouge_scores(top.text, refs, scorer).items():
                per[k].append(v)
            oracle.append(max(scorer.score(ex["subject"], s.text)["rouge1"].fmeasure * 100
                              for s in resp.subject_lines))
            sources[top.source] += 1
            reasons[resp.fallback_reason or "none"] += 1
            lat.append(resp.latency_ms)
            rows.append({"config": name, "id": ex["id"], "subject": ex["subject"],
                         "top": top.text, "source": top.source,
                         "others": [s.text for s in resp.subject_lines[1:4]]})
        results[name] = {
            **{k: round(statistics.fmean(v), 2) for k, v in per.items()},
            "oracle_top_n_rouge1": round(statistics.fmean(oracle), 2),
            "top_source": dict(sources), "fallback_reason": dict(reasons),
            "latency_ms_p50": statistics.median(lat), "n": len(examples),
            "near_copies_dropped": no_copies.dropped if no_copies else 0}
        print(f"{name:13s} " + " ".join(f"{k}={v}" for k, v in results[name].items()),
              file=sys.stderr)
    if args.cache and args.model == "local":
        args.cache.write_text(json.dumps(cache))
    services.close()
    if args.pools:
        args.pools.write_text(json.dumps(pools))
    return {"examples": len(examples), "eligible": pool, "embedder": args.embedder,
            "model": args.model, "deadline_ms": args.deadline_ms, "weights":
            dataclasses.asdict(weights), "results": results, "rows": rows}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="folder with AESLC train.jsonl and dev.jsonl")
    p.add_argument("--limit", type=int, default=150)
    p.add_argument("--offset", type=int, default=0, help="skip this many sampled examples")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--split", choices=["dev", "train"], default="dev",
                   help="train: queries are held-out train emails (dev is not read)")
    p.add_argument("--authors", choices=["all", "fit", "heldout"], default="all",
                   help="only the fit or held-out authors of author_split()")
    p.add_argument("--list-authors", action="store_true",
                   help="print author_split() as JSON and exit")
    p.add_argument("--configs", default="personalized,plain,rules,rules_plain")
    p.add_argument("--embedder", choices=["minilm", "hash"], default="minilm")
    p.add_argument("--model", choices=["local", "replay", "none"], default="local")
    p.add_argument("--cache", type=Path, help="model completions (written by local, read by "
                                              "replay)")
    p.add_argument("--work-dir", type=Path, default=None,
                   help="gateway data dir (reused across runs to skip re-ingesting)")
    p.add_argument("--deadline-ms", type=int, default=20_000)
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--max-chars", type=int, default=60)
    p.add_argument("--no-dedup", dest="dedup", action="store_false",
                   help="let retrieval return train near-copies of the dev email (leaks)")
    p.add_argument("--weights", help="ranker weights, e.g. relevance=1,authorship=1.5")
    p.add_argument("--out", type=Path)
    p.add_argument("--pools", type=Path, help="write every candidate's ranking features and "
                                              "ROUGE-1 here (input of --tune)")
    args = p.parse_args(argv)
    if args.list_authors:
        fit_authors, held = author_split(args.data)
        print(json.dumps({"fit": sorted(fit_authors), "heldout": sorted(held)}, indent=2))
        return
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown configs {unknown}; choose from {sorted(CONFIGS)}")
    if args.model == "replay" and not (args.cache and args.cache.is_file()):
        p.error("--model replay needs --cache FILE written by an earlier --model local run")
    if args.work_dir is None:
        args.work_dir = Path(tempfile.mkdtemp(prefix="aeslc-bench-")) / "data"
    out = asyncio.run(run(args))
    text = json.dumps(out, indent=2)
    if args.out:
        args.out.write_text(text)
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
