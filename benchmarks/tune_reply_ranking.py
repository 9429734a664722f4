"""Tune how the model's replies compete with the response set, on tuning rows only.

Two steps, so the slow one runs once:

``collect`` runs the smart-reply use case's own parts in-process on tuning rows of
``reddit-replies/valid.tsv`` (file lines ``--start``..``--stop``, 0-based, a seeded
sample of ``--rows`` of them, never a pair of the seeded dev sample that
``persona eval smart-replies --limit 200`` reports on). Per row it keeps every
candidate that passed the guardrails: the rules' and the embedded model's (three
samples with no deadline, so every row has them), with source, intent, prior and
heuristic score. With ``--likelihood`` it also stores the model's mean log-probability
of each candidate given the prompt and given a neutral message (for PMI ranking).

``simulate`` re-picks three replies per row offline under other policies (model slots
first, the model's prior, likelihood or PMI weight) with the use case's selection
rule (greedy by score, one per intent, no equal texts), and prints best-of-3 weighted
ROUGE (MRS), its paired bootstrap 95% CI against rules only, corpus distinct-2 and the
model's share. Numbers: docs/smart-replies.md.

    .venv/bin/python benchmarks/tune_reply_ranking.py collect \\
        --data ../shared/data/reddit-replies/valid.tsv --rows 150 --out /tmp/tune.jsonl
    .venv/bin/python benchmarks/tune_reply_ranking.py simulate --out /tmp/tune.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NEUTRAL = "Ok."  # the message of the neutral prompt PMI subtracts


def tuning_rows(data: Path, start: int, stop: int, rows: int, seed: int):
    from evals.loaders import load_reply_tsv, select

    ds = load_reply_tsv(data)
    dev = {e.id for e in select(ds.examples, 200, 0)}
    pool = [e for e in ds.examples
            if e.id not in dev and start < int(e.id.rsplit("-", 1)[1]) <= stop]
    random.Random(seed).shuffle(pool)
    return sorted(pool[:rows], key=lambda e: int(e.id.rsplit("-", 1)[1]))


def collect(args) -> None:
    from gateway.core.offline import offline_env

    offline_env()
    from gateway.auth import create_key
    from gateway.core.settings import Settings
    from gateway.llm.client import scorer_for
    from gateway.llm.likelihood import LikelihoodPass
    from gateway.schemas.smart_replies import SmartReplyRequest
    from gateway.services import build_services, start_services
    from gateway.tables import Tenant
    from gateway.usecases import smart_replies as sr
    from gateway.usecases.common import token_counter
    from gateway.usecases.explain import Trace
    from gateway.usecases.policy import DEFAULT_POLICY
    from gateway.usecases.replies import generate
    from gateway.usecases.replies.prompt import build_prompt, warm_up_messages

    settings = Settings(data_dir=Path(tempfile.mkdtemp()) / "data", rate_limit_per_minute=0)
    services = build_services(settings)
    start_services(services, warm_up_prompt=warm_up_messages)
    create_key(services.db, tenant="tune", scope="admin")
    with services.db.session() as s:
        tenant_id = s.query(Tenant).filter_by(name="tune").one().id
    scorer = LikelihoodPass(scorer_for(services.llm.primary).__self__.load()) \
        if args.likelihood else None
    out = Path(args.out)
    done = {json.loads(line)["id"] for line in out.read_text().splitlines()} \
        if out.exists() else set()
    t0 = time.monotonic()
    with out.open("a", encoding="utf-8") as f:
        for i, ex in enumerate(tuning_rows(Path(args.data), args.start, args.stop, args.rows,
                                           args.seed)):
            if ex.id in done:
                continue
            req = SmartReplyRequest.model_validate(ex.request)
            plan = sr._prepare(services, tenant_id, req, DEFAULT_POLICY,
                               Trace(request_id="", task="smart_reply"))
            got = asyncio.run(generate.sample(
                services.llm, plan.prompt.messages, samples=3,
                deadline=time.monotonic() + 60, max_tokens=settings.smart_reply_max_tokens))
            pool = sr._llm_candidates(got.texts, incoming=plan.incoming,
                                      style=plan.user.profile, sender=req.message.from_,
                                      max_chars=req.max_chars,
                                      prior=settings.smart_reply_model_prior) + plan.rules
            sr._choose(services, "tune", req, plan, pool, DEFAULT_POLICY)
            cands = [c for c in pool if c.passed]
            lik = {}
            if scorer is not None:
                texts = list(dict.fromkeys(c.bare for c in cands))
                lik = dict(zip(texts, scorer.run(plan.prompt.messages, texts, None),
                               strict=True))
            f.write(json.dumps({"id": ex.id, "ref": ex.references[0],
                                "model_prior": settings.smart_reply_model_prior, "cands": [
                {"source": c.source, "bare": c.bare, "text": c.text, "intent": c.intent,
                 "prior": c.prior, "score": c.score, "ll": lik.get(c.bare)}
                for c in cands]}) + "\n")
            f.flush()
            if i % 20 == 0:
                print(f"{i} rows, {time.monotonic() - t0:.0f} s", flush=True)
    if scorer is not None:  # one neutral pass per distinct text: the prompt stays cached
        recs = [json.loads(line) for line in out.read_text().splitlines()]
        texts = sorted({c["bare"] for r in recs for c in r["cands"]})
        neutral = build_prompt(subject="", body=NEUTRAL, pairs=[], budget_tokens=10**9,
                               count_tokens=token_counter(services)).messages
        Path(f"{out}.neutral.json").write_text(json.dumps(
            dict(zip(texts, scorer.run(neutral, texts, None), strict=True))))
    services.close()


def _key(text: str) -> str:
    return " ".join(text.lower().strip(" .!?").split())


def _pick(cands, scores, n, *, eligible=None, chosen=(), one_per_intent=True):
    """``replies/select.pick_distinct`` without vectors (equal texts only)."""
    out = list(chosen)
    intents = {cands[i]["intent"] for i in out}
    seen = {_key(cands[i]["bare"]) for i in out}
    for i in sorted(range(len(cands)) if eligible is None else eligible,
                    key=lambda i: -scores[i]):
        if len(out) >= n:
            break
        c = cands[i]
        if i in out or _key(c["bare"]) in seen or (one_per_intent and c["intent"] in intents):
            continue
        out.append(i)
        intents.add(c["intent"])
        seen.add(_key(c["bare"]))
    return out


def _served(cands, scores, slots):
    first = 3 if slots is None else slots
    picked = _pick(cands, scores, first,
                   eligible=[i for i, c in enumerate(cands) if c["source"] == "llm"])
    picked = _pick(cands, scores, 3, chosen=picked)
    return [cands[i] for i in _pick(cands, scores, 3, chosen=picked, one_per_intent=False)]


def simulate(args) -> None:
    from evals.compare import paired_bootstrap
    from evals.metrics import corpus_distinct, weighted_rouge

    recs = [json.loads(line) for line in Path(args.out).read_text().splitlines()]
    neutral_path = Path(f"{args.out}.neutral.json")
    neutral = json.loads(neutral_path.read_text()) if neutral_path.exists() else {}
    memo: dict = {}

    def mrs(r, c):
        k = (r["id"], c["text"])
        if k not in memo:
            memo[k] = weighted_rouge(c["text"], [r["ref"]])
        return memo[k]

    def run(score, slots=0, rules_only=False):
        res, texts, share = {}, [], []
        for r in recs:
            cands = [c for c in r["cands"] if not (rules_only and c["source"] == "llm")]
            got = _served(cands, [score(c, r) for c in cands], slots)
            res[r["id"]] = max((mrs(r, c) for c in got), default=0.0)
            texts.append([c["text"] for c in got])
            share.append(sum(c["source"] == "llm" for c in got) / max(len(got), 1))
        return res, corpus_distinct(texts, 2), statistics.mean(share)

    def heuristic(prior=None):
        # The score's prior term is 0.40 x prior (replies/select.py): move the model's
        # candidates from the prior they were collected at (temperature steps kept).
        return lambda c, r: c["score"] + (0.4 * (prior - r["model_prior"])
                                          if prior is not None and c["source"] == "llm" else 0)

    base, d2, _ = run(heuristic(), rules_only=True)
    print(f"{len(recs)} rows; rules MRS {statistics.mean(base.values()):.4f} distinct-2 {d2:.3f}")
    # The diversity there is to pick from: every model line, all of them served.
    model_lines = [[c["text"] for c in r["cands"] if c["source"] == "llm"] for r in recs]
    print(f"every model line that passed, all together: corpus distinct-2 "
          f"{corpus_distinct(model_lines, 2):.3f} "
          f"({statistics.mean(map(len, model_lines)):.2f} lines a row)")

    def show(name, got):
        res, d2, share = got
        ci = paired_bootstrap(base, res, seed=0)
        print(f"{name:34s} MRS {statistics.mean(res.values()):.4f} vs rules {ci['diff']:+.4f} "
              f"[{ci['ci_low']:+.4f}, {ci['ci_high']:+.4f}] distinct-2 {d2:.3f} "
              f"model share {share:.2f}")

    show("model first in all slots, prior 0.70", run(heuristic(0.7), slots=None))
    for slots in (1, 0):
        for prior in (0.7, 0.6, 0.55, 0.5, 0.4):
            show(f"{slots} model slot(s) first, prior {prior:.2f}",
                 run(heuristic(prior), slots=slots))
    if all(c["ll"] is not None for r in recs for c in r["cands"]):
        def lik(lo, hi, pmi):
            def f(c, _r):
                v = c["ll"] - (neutral.get(c["bare"], 0.0) if pmi else 0.0)
                return min(max((v - lo) / (hi - lo), 0.0), 1.0)
            return f
        for w in (0.1, 0.3, 0.5, 1.0):
            for name, f in (("likelihood", lik(-3.0, -0.5, False)),
                            ("PMI", lik(-0.6, 0.6, True))):
                show(f"{name} weight {w}",
                     run(lambda c, r, f=f, w=w: (1 - w) * c["score"] + w * f(c, r)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="step", required=True)
    c = sub.add_parser("collect", help="run the use case's parts on tuning rows")
    c.add_argument("--data", required=True, type=Path, help="reddit-replies valid.tsv")
    c.add_argument("--start", type=int, default=1000, help="first tuning line (0-based)")
    c.add_argument("--stop", type=int, default=5000, help="line after the last tuning line")
    c.add_argument("--rows", type=int, default=150, help="tuning rows sampled")
    c.add_argument("--seed", type=int, default=7)
    c.add_argument("--likelihood", action="store_true",
                   help="also score every candidate with the model (slow)")
    c.add_argument("--out", required=True, help="JSONL written (resumable)")
    s = sub.add_parser("simulate", help="re-pick offline under other policies")
    s.add_argument("--out", required=True, help="the JSONL collect wrote")
    args = p.parse_args()
    collect(args) if args.step == "collect" else simulate(args)


if __name__ == "__main__":
    main()
