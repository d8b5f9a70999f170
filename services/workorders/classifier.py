"""Text classifier of work-order descriptions (Chinese and English) into categories.

A scikit-learn pipeline: the text is first *glossed* (each English domain term of the
bilingual glossary ``data/glossary.csv`` appends its Chinese equivalent, so the Chinese and
English reports share features), then TF-IDF over character n-grams (1–3, word-boundary
aware: no Chinese word segmentation needed, robust to typos) and stemmed English word
uni/bigrams (:func:`stem`)
feeds a linear SVM. Every step is fitted on training texts only, the glossary included: a
glossary term is used only if it occurs in the training texts (:class:`Glossary`). The
shipped model is trained on ``data/corpus.csv`` (columns ``category, lang, text``) the
first time it is needed, in about a second, and is fully deterministic.

Accuracy: :func:`split_accuracies` (stratified 80/20 splits of the training file, seeds
0–4) and :func:`evaluate_heldout` (the frozen ``data/heldout.csv``, never used for
tuning); ``python -m services.workorders.classifier`` prints both.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sklearn
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

__all__ = ["CATEGORIES", "CORPUS", "HELDOUT", "Corpus", "Glossary", "build_pipeline", "classify",
           "cross_validate", "evaluate", "evaluate_heldout", "gloss", "load_corpus",
           "split_accuracies", "stem"]

#: Work-order categories, in the order reports and the API list them.
CATEGORIES = ("水电", "门窗", "电梯", "公共设施", "保洁", "绿化", "安防", "其他")
CORPUS = Path(__file__).resolve().parent / "data" / "corpus.csv"
#: Reports frozen before any tuning: never trained on, scored only by :func:`evaluate_heldout`.
HELDOUT = Path(__file__).resolve().parent / "data" / "heldout.csv"
GLOSSARY = Path(__file__).resolve().parent / "data" / "glossary.csv"
#: English inflections a glossary term also matches (``pipe`` → ``pipes``, ``leak`` → ``leaking``).
_INFLECTIONS = r"(?:s|es|ed|d|ing)?"
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
#: Suffixes :func:`stem` strips (the first that matches), each with the shortest stem it may leave.
_SUFFIXES = (("ing", 3), ("ies", 2), ("ied", 2), ("es", 3), ("ed", 3), ("ly", 3), ("s", 3))


def stem(word: str) -> str:
    """Crude English stem by one documented rule: strip the first matching suffix of
    ``_SUFFIXES`` (``-ies``/``-ied`` become ``-y``) if the stem keeps its minimum length,
    then undouble a final consonant other than l, s, z (``leaking`` → ``leak``,
    ``clogged`` → ``clog``, ``lifts`` → ``lift``, ``flies`` → ``fly``)."""
    for suffix, shortest in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word


def english_words(text: str) -> list[str]:
    """Stemmed lower-case English words of ``text`` (Chinese characters are not words here)."""
    return [stem(w) for w in _WORD.findall(text.lower())]


@dataclass(frozen=True)
class Corpus:
    """Labelled reports: parallel tuples of texts, categories and languages."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    langs: tuple[str, ...]


def load_corpus(path: Path = CORPUS) -> Corpus:
    """Read a corpus CSV (``category, lang, text``); every category must be known."""
    texts, labels, langs = [], [], []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["category"] not in CATEGORIES:
                raise ValueError(f"unknown category {row['category']!r} in {path.name}")
            texts.append(row["text"])
            labels.append(row["category"])
            langs.append(row["lang"])
    return Corpus(tuple(texts), tuple(labels), tuple(langs))


@lru_cache(maxsize=1)
def _glossary() -> tuple[tuple[re.Pattern, str], ...]:
    """Every entry of the glossary file, longest English term first."""
    with open(GLOSSARY, newline="", encoding="utf-8") as f:
        pairs = [(r["english"], r["chinese"]) for r in csv.DictReader(f)]
    pairs.sort(key=lambda p: -len(p[0]))
    return tuple((re.compile(r"\b" + re.escape(en) + _INFLECTIONS + r"\b", re.IGNORECASE), zh)
                 for en, zh in pairs)


class Glossary(BaseEstimator, TransformerMixin):
    """Gloss English domain terms with their Chinese equivalents; fitted on training texts.

    ``fit`` keeps the glossary entries whose English term (or an inflection of it) occurs
    in at least one training text: a term seen only in texts the model is scored on never
    helps it. ``transform`` appends the Chinese equivalents of the kept terms found in
    each text.
    """

    def fit(self, texts, y=None):
        self.terms_ = tuple((pattern, zh) for pattern, zh in _glossary()
                            if any(pattern.search(t) for t in texts))
        return self

    def gloss(self, text: str) -> str:
        extra = [zh for pattern, zh in self.terms_ if pattern.search(text)]
        return f"{text} {' '.join(extra)}" if extra else text

    def transform(self, texts):
        return [self.gloss(t) for t in texts]


def gloss(text: str) -> str:
    """Append the Chinese equivalents of the English domain terms found in ``text``.

    Uses the shipped model's glossary (the terms that occur in its training corpus).
    """
    return _model().named_steps["gloss"].gloss(text)


def build_pipeline() -> Pipeline:
    """Return the untrained pipeline (gloss → char + word TF-IDF → linear SVM)."""
    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)),
        ("words", TfidfVectorizer(tokenizer=english_words, token_pattern=None, lowercase=False,
                                  ngram_range=(1, 2), sublinear_tf=True)),
    ])
    return Pipeline([
        ("gloss", Glossary()),
        ("features", features),
        ("svm", LinearSVC(C=5.0, random_state=0)),
    ])


@lru_cache(maxsize=1)
def _model() -> Pipeline:
    corpus = load_corpus()
    return build_pipeline().fit(list(corpus.texts), list(corpus.labels))


def _decision(model: Pipeline, text: str):
    """``model.decision_function([text])[0]`` for one text, without the per-call overhead.

    One report at a time is the API's case: the pipeline's generic machinery (joblib
    dispatch of the feature union, input and parameter validation) costs more than the
    features themselves. This calls the fitted steps directly (gloss, each fitted
    vectorizer's ``transform``, the SVM's linear decision), which gives the same values
    bit for bit (checked in the tests against ``decision_function``).
    """
    union = model.named_steps["features"]
    svm = model.named_steps["svm"]
    glossed = model.named_steps["gloss"].gloss(text)
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        x = sparse.hstack([vec.transform([glossed]) for _, vec in union.transformer_list], format="csr")
    return (x @ svm.coef_.T).ravel() + svm.intercept_


def classify(text: str) -> tuple[str, float]:
    """Return ``(category, margin)`` for a description.

    ``margin`` is the SVM decision value of the chosen class minus the runner-up (≥ 0;
    below ~0.2 the text is ambiguous). Empty text is ``("其他", 0.0)``.
    """
    if not text or not text.strip():
        return "其他", 0.0
    model = _model()
    scores = _decision(model, text)
    order = scores.argsort()[::-1]
    best = str(model.classes_[order[0]])
    return best, float(scores[order[0]] - scores[order[1]])


def _accuracy(model: Pipeline, test: Corpus) -> dict:
    predicted = model.predict(list(test.texts))
    hits = [p == label for p, label in zip(predicted, test.labels)]
    by_lang = {}
    for lang in sorted(set(test.langs)):
        sel = [h for h, g in zip(hits, test.langs) if g == lang]
        by_lang[lang] = round(sum(sel) / len(sel), 4) if sel else None
    return {"test": len(hits), "accuracy": round(sum(hits) / len(hits), 4), "by_language": by_lang}


def _subset(corpus: Corpus, idx) -> Corpus:
    return Corpus(*(tuple(col[i] for i in idx) for col in (corpus.texts, corpus.labels, corpus.langs)))


def evaluate(seed: int = 0, test_size: float = 0.2) -> dict:
    """Train on a stratified split of the training file; return the other part's accuracy.

    The split is stratified by category and language; every step (the glossary included)
    is fitted on the training part only.
    """
    corpus = load_corpus()
    idx = list(range(len(corpus.texts)))
    strata = [f"{c}/{g}" for c, g in zip(corpus.labels, corpus.langs)]
    train, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=strata)
    part = _subset(corpus, train)
    model = build_pipeline().fit(list(part.texts), list(part.labels))
    return {"corpus": len(idx), "train": len(train), **_accuracy(model, _subset(corpus, test)),
            "seed": seed}


def split_accuracies(seeds=range(5)) -> list[float]:
    """Return the accuracy of :func:`evaluate` for each seed (one split per seed)."""
    return [evaluate(seed)["accuracy"] for seed in seeds]


def evaluate_heldout() -> dict:
    """Accuracy of the shipped model (trained on the training file) on the frozen held-out file."""
    return {"train": len(load_corpus().texts), **_accuracy(_model(), load_corpus(HELDOUT))}


def cross_validate(folds: int = 5, seed: int = 0) -> float:
    """Return the mean accuracy of stratified ``folds``-fold cross-validation."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    corpus = load_corpus()
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    strata = [f"{c}/{g}" for c, g in zip(corpus.labels, corpus.langs)]
    scores = cross_val_score(build_pipeline(), list(corpus.texts), list(corpus.labels),
                             cv=cv.split(corpus.texts, strata))
    return round(float(scores.mean()), 4)


if __name__ == "__main__":
    splits = split_accuracies()
    report = {"splits": splits, "mean": round(sum(splits) / len(splits), 4),
              "cv5_accuracy": cross_validate(), "heldout": evaluate_heldout()}
    print(json.dumps(report, ensure_ascii=False))
