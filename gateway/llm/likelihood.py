"""Score candidate replies with the in-process model: log P(reply | prompt).

Smart Reply's original design ranks a response set by the model's likelihood of
each response given the message. With llama.cpp that is a prefill-only pass: the
prompt is evaluated once (and usually reused from the KV cache of the generation
that just ran on the same prompt), then for each candidate the cache is cut back
to the prompt and the candidate's tokens are evaluated in one batch with logits
for every position, so no token is decoded. The prompt is formatted with the
model's own chat template, as ``create_chat_completion`` formats it, so the
shared prefix is the same tokens.
"""

from __future__ import annotations

import time

import numpy as np


class LikelihoodPass:
    def __init__(self, llama) -> None:
        self.llama = llama

    def _prompt_tokens(self, messages: list[dict]) -> list[int]:
        from llama_cpp import llama_chat_format

        ll = self.llama
        model = ll._model
        eos = model.token_get_text(ll.token_eos()) if ll.token_eos() != -1 else ""
        bos = model.token_get_text(ll.token_bos()) if ll.token_bos() != -1 else ""
        fmt = llama_chat_format.Jinja2ChatFormatter(
            template=ll.metadata["tokenizer.chat_template"], eos_token=eos, bos_token=bos)
        res = fmt(messages=messages)
        return ll.tokenize(res.prompt.encode("utf-8"), add_bos=not res.added_special,
                           special=True)

    def run(self, messages: list[dict], texts: list[str],
            deadline: float | None) -> list[float | None]:
        ll = self.llama
        prefix = self._prompt_tokens(messages)
        end = [ll.token_eos()]
        held = ll.input_ids[: ll.n_tokens].tolist()
        common = 0
        for a, b in zip(held, prefix, strict=False):
            if a != b:
                break
            common += 1
        # Keep the cached prompt; the last prompt token is evaluated with each candidate.
        ll.n_tokens = min(common, len(prefix) - 1)
        ll.eval(prefix[ll.n_tokens:-1])
        p = len(prefix) - 1
        out: list[float | None] = []
        try:
            for text in texts:
                if deadline is not None and time.monotonic() >= deadline:
                    out.append(None)
                    continue
                cand = ll.tokenize(text.encode("utf-8"), add_bos=False, special=False) + end
                batch = [prefix[-1], *cand]
                if p + len(batch) > ll.n_ctx() or len(batch) > ll.n_batch:
                    out.append(None)
                    continue
                ll._ctx.kv_cache_seq_rm(0, p, -1)
                ll._batch.set_batch(batch=batch, n_past=p, logits_all=True)
                ll._ctx.decode(ll._batch)
                logits = np.ctypeslib.as_array(
                    ll._ctx.get_logits(), shape=(len(batch) * ll.n_vocab(),)
                ).reshape(len(batch), -1)[:-1]
                top = logits.max(axis=1)
                lse = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
                lp = logits[np.arange(len(cand)), cand] - lse
                out.append(float(lp.mean()))
        finally:
            # Leave the cache holding the prompt minus its last token, as the next
            # generation on this prompt expects to find it.
            ll._ctx.kv_cache_seq_rm(0, p, -1)
            ll.n_tokens = p
        return out
