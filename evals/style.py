"""Style attribution: do a user's suggestions sound like *them*?

A classifier (character n-gram TF-IDF + logistic regression, scikit-learn: the
``evals`` extra) learns to tell the writers apart on half of their emails; its accuracy
on the other half says how well it can tell at all. Every request's served suggestions,
joined into one text, are then classified: ``attributed`` is 1 when the classifier names
the request's own writer. Personalization helps when ``full`` is attributed more often
than ``plain`` (same requests, paired), for each writer.

The writers' first names (the file stems) and the requests' sender's names are masked
(``NAME``) in everything the classifier reads, so signing a suggestion with the name, or
greeting the sender, does not count as style;
``attributed_unmasked`` is the same check without the mask.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from evals.compare import paired_bootstrap, wilson
from evals.loaders import Example
from evals.scoring import Evaluator, served_texts
from evals.style_data import SENDER_NAMES, StyleSplit
from gateway.core.errors import ConfigError

MASK = "NAME"


def mask_names(text: str, names: Sequence[str]) -> str:
    if not names:
        return text
    pattern = r"\b(" + "|".join(re.escape(n) for n in names) + r")\b"
    return re.sub(pattern, MASK, text, flags=re.IGNORECASE)


class StyleClassifier:
    """Which writer wrote a text: char 2-4-gram TF-IDF (within word boundaries, sublinear
    tf) and a multinomial logistic regression."""

    def __init__(self, *, mask: Sequence[str] = ()) -> None:
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
        except ImportError:
            raise ConfigError("the style eval needs scikit-learn: pip install -e '.[evals]' "
                              "(make installs it)") from None
        self.mask = list(mask)
        self.model = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                            min_df=2),
            LogisticRegression(max_iter=2000, C=10.0))

    def _prep(self, texts: Sequence[str]) -> list[str]:
        return [mask_names(t, self.mask) for t in texts]

    def fit(self, texts: Sequence[str], writers: Sequence[str]) -> StyleClassifier:
        self.model.fit(self._prep(texts), list(writers))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(x) for x in self.model.predict(self._prep(texts))]

    def probability(self, texts: Sequence[str], writer: str) -> list[float]:
        classes = list(self.model.classes_)
        probs = self.model.predict_proba(self._prep(texts))
        return [float(p[classes.index(writer)]) for p in probs]


def accuracy(clf: StyleClassifier, test: list[tuple[str, str]]) -> dict:
    """Held-out accuracy with a Wilson 95% interval, overall and per writer."""
    got = clf.predict([t for _, t in test])
    hits = [g == w for g, (w, _) in zip(got, test)]
    out = {"overall": wilson(sum(hits), len(hits)), "per_writer": {}}
    for writer in sorted({w for w, _ in test}):
        mine = [h for h, (w, _) in zip(hits, test) if w == writer]
        out["per_writer"][writer] = wilson(sum(mine), len(mine))
    return out


@dataclass
class StyleModels:
    masked: StyleClassifier
    unmasked: StyleClassifier
    accuracy: dict  # "masked"/"unmasked" -> accuracy()

    @classmethod
    def train(cls, data: StyleSplit) -> StyleModels:
        names = sorted({w for w, _ in data.train})
        texts, labels = [t for _, t in data.train], [w for w, _ in data.train]
        masked = StyleClassifier(mask=[*names, *SENDER_NAMES]).fit(texts, labels)
        unmasked = StyleClassifier().fit(texts, labels)
        return cls(masked=masked, unmasked=unmasked,
                   accuracy={"masked": accuracy(masked, data.test),
                             "unmasked": accuracy(unmasked, data.test)})


class StyleEvaluator(Evaluator):
    """Smart-reply scores plus attribution of the served suggestions to the writer."""

    def __init__(self, models: StyleModels, writer_of: dict[str, str], **kw) -> None:
        super().__init__("smart-replies", **kw)
        self.primary_metric = "attributed"
        self.models = models
        self.writer_of = writer_of

    def score(self, example: Example, response: dict | None, wall_ms: float) -> dict:
        out = super().score(example, response, wall_ms)
        texts = served_texts({"response": response})
        writer = self.writer_of[example.user]
        if not texts:  # nothing served: nothing to attribute
            out.update(attributed=None, attributed_unmasked=None, p_writer=None)
            return out
        joined = ["\n".join(texts)]
        out["attributed"] = float(self.models.masked.predict(joined)[0] == writer)
        out["attributed_unmasked"] = float(self.models.unmasked.predict(joined)[0] == writer)
        out["p_writer"] = self.models.masked.probability(joined, writer)[0]
        return out


def summarize_style(data: StyleSplit, models: StyleModels, records: dict[str, list[dict]],
                    *, seed: int) -> dict:
    """Per writer: each variant's attribution rate (Wilson 95% CI) and the paired
    difference of each later variant vs the first (bootstrap 95% CI); the same for the
    mean probability the classifier gives the writer (``p_writer``), which still
    separates variants when both are attributed to a writer nearly always (a writer
    whose style is the classifier's default for neutral text)."""
    names = list(records)
    base = names[0]
    writer_of_example = {e.id: data.writer_of[e.user] for e in data.examples}
    out = {"classifier": {"features": "char_wb 2-4-gram TF-IDF (sublinear tf, min_df 2)",
                          "model": "logistic regression (C=10)", "names_masked": True,
                          "train_emails": len(data.train), "test_emails": len(data.test),
                          "accuracy": models.accuracy},
           "writers": {}}
    for writer in sorted(set(data.writer_of.values())):
        row: dict = {"rates": {}, "diff": {}, "p_writer": {}, "p_writer_diff": {}}
        per, prob = {}, {}
        for v in names:
            mine = [r for r in records[v] if writer_of_example.get(r["id"]) == writer]
            per[v] = {r["id"]: r["scores"]["attributed"] for r in mine
                      if r["scores"].get("attributed") is not None}
            prob[v] = {r["id"]: r["scores"]["p_writer"] for r in mine
                       if r["scores"].get("p_writer") is not None}
            row["rates"][v] = wilson(int(sum(per[v].values())), len(per[v]))
            row["p_writer"][v] = (sum(prob[v].values()) / len(prob[v])) if prob[v] else None
        for v in names[1:]:
            row["diff"][v] = paired_bootstrap(per[base], per[v], seed=seed)
            row["p_writer_diff"][v] = paired_bootstrap(prob[base], prob[v], seed=seed)
        out["writers"][writer] = row
    return out


def style_sections(style: dict, names: list[str]) -> list[dict]:
    """Tables for report.md / report.html: attribution per writer, classifier accuracy."""
    base = names[0]

    def rate(w: dict | None) -> str:
        if not w or not w["n"]:
            return "–"
        return f"{w['rate']:.2f} [{w['ci_low']:.2f}, {w['ci_high']:.2f}] ({w['k']}/{w['n']})"

    def diff(d: dict | None) -> str:
        return "–" if d is None else (f"{d['diff']:+.2f} [{d['ci_low']:+.2f}, "
                                      f"{d['ci_high']:+.2f}]{' *' if d['significant'] else ''}")

    rows, prob_rows = [], []
    for writer, row in style["writers"].items():
        rows.append([writer, *(rate(row["rates"][v]) for v in names),
                     *(diff(row["diff"].get(v)) for v in names[1:])])
        probs = row.get("p_writer", {})
        prob_rows.append([writer, *("–" if probs.get(v) is None else f"{probs[v]:.3f}"
                                    for v in names),
                          *(diff(row.get("p_writer_diff", {}).get(v)) for v in names[1:])])
    acc = style["classifier"]["accuracy"]
    acc_rows = [["all writers", rate(acc["masked"]["overall"]), rate(acc["unmasked"]["overall"])]]
    acc_rows += [[w, rate(acc["masked"]["per_writer"][w]), rate(acc["unmasked"]["per_writer"][w])]
                 for w in acc["masked"]["per_writer"]]
    c = style["classifier"]
    return [
        {"title": "Style attribution per writer",
         "header": ["writer", *(f"{v} attributed" for v in names),
                    *(f"{v} − {base}" for v in names[1:])],
         "rows": rows,
         "note": ("Share of requests whose suggestions (joined) the classifier attributes to "
                  "the request's own writer, names masked; Wilson 95% CI (k/n). Difference: "
                  "paired bootstrap 95% CI, * = excludes 0.")},
        {"title": "Probability the classifier gives the writer",
         "header": ["writer", *(f"{v} mean P(writer)" for v in names),
                    *(f"{v} − {base}" for v in names[1:])],
         "rows": prob_rows,
         "note": ("Mean over requests of the classifier's probability for the request's own "
                  "writer (names masked). It still separates the variants when both are "
                  "attributed to the writer nearly always. Paired bootstrap 95% CI.")},
        {"title": "Style classifier (held-out accuracy)",
         "header": ["writers", "names masked", "names kept"], "rows": acc_rows,
         "note": (f"{c['features']}, {c['model']}; trained on {c['train_emails']} emails, "
                  f"tested on {c['test_emails']} others (Wilson 95% CI).")},
    ]
