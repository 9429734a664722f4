"""How to over-generate with the embedded model: N short samples vs one numbered list.

For each message, strategy ``samples`` draws 3 completions of the production prompt
(temperatures 0.3/0.8/1.0, 20 tokens, llama.cpp reuses the prefill); strategy ``list``
asks once for a numbered list of three replies (60 tokens). Reports wall time and how
many usable, distinct-intent candidates survive cleaning.

Run: .venv/bin/python benchmarks/sampling_smart_replies.py
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MESSAGES = [
    "Can we move our Thursday meeting to Friday at 3pm?",
    "Could you send me the Q3 report by Monday?",
    "Thanks so much for your help with the launch yesterday!",
    "Want to grab lunch tomorrow? The new ramen place opened.",
    "Are you joining the team offsite next week in Porto?",
    "FYI the staging server will be down tonight for upgrades.",
    "What do you think about the new slide deck for the board?",
    "I got the job! I start at the new place in March.",
]
LIST_SYSTEM = ("Suggest three different short replies to the email between UNTRUSTED markers: "
               "one that agrees, one that declines, one that asks a question. Write them as a "
               "numbered list: 1. ... 2. ... 3. ...")


def main() -> None:
    from gateway.core.offline import offline_env

    offline_env()
    from gateway.core.settings import default_gguf_path
    from gateway.llm.providers import LocalLlama
    from gateway.usecases.replies.clean import clean
    from gateway.usecases.replies.generate import STOP, TEMPERATURES
    from gateway.usecases.replies.prompt import build_prompt
    from gateway.usecases.replies.rules import reply_intent
    from prompts.render import fence

    model = LocalLlama(default_gguf_path(), n_ctx=2048, n_threads=2)
    llama = model.load()

    def complete(messages, max_tokens, temperature, seed, stop):
        out = llama.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                           temperature=temperature, stop=stop, seed=seed,
                                           repeat_penalty=1.15)
        return out["choices"][0]["message"]["content"] or ""

    def usable(texts, msg):
        bare = [c for c in (clean(t, incoming=msg) for t in texts) if c]
        return len({reply_intent(b) for b in bare}), bare

    results = {"samples": [], "list": []}
    complete(build_prompt(subject="", body="hi", pairs=[], budget_tokens=450,
                          count_tokens=model.count_tokens).messages, 4, 0.3, 0, STOP)  # warm
    for msg in MESSAGES:
        p = build_prompt(subject="", body=msg, pairs=[], budget_tokens=450,
                         count_tokens=model.count_tokens)
        t0 = time.monotonic()
        texts = [complete(p.messages, 20, TEMPERATURES[i], 1000 + i, STOP) for i in range(3)]
        results["samples"].append((time.monotonic() - t0, *usable(texts, msg)))
        t0 = time.monotonic()
        raw = complete([{"role": "system", "content": LIST_SYSTEM},
                        {"role": "user", "content": fence(msg)}], 60, 0.3, 1000, ["<<<"])
        items = [x for x in re.split(r"(?:^|\n|\s)\d[.)]\s+", raw) if x.strip()]
        results["list"].append((time.monotonic() - t0, *usable(items, msg)))
        print(f"{msg[:40]!r}\n  samples: {results['samples'][-1][2]}\n  list:    {results['list'][-1][2]}")
    for name, rows in results.items():
        print(f"{name:8s} mean_s={statistics.mean(r[0] for r in rows):.2f} "
              f"distinct_intents={statistics.mean(r[1] for r in rows):.2f} "
              f"usable={statistics.mean(len(r[2]) for r in rows):.2f}")


if __name__ == "__main__":
    main()
