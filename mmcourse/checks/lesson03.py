"""Checks for exercise 03 (text features), against :mod:`mmcourse.features.text`.

The learner's functions (signatures as in ``solutions/03_text_features.ipynb``):

* ``tokenize(text)`` -> list of words (lower-case, punctuation removed, split on whitespace);
* ``build_vocabulary(texts)`` -> ``["", "[UNK]", words by decreasing count, ties reverse-sorted]``;
* ``encode(text, vocabulary, max_length)`` -> int ids ``(max_length,)``, unknown = 1, padding = 0;
* ``one_hot_encode(ids, num_vocab)`` -> ``(max_length, num_vocab)``, padding rows all zero.
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register
from mmcourse.features import text

_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "an",
          "odd", "even", "number", "above", "below", "plus", "minus", "the", "digit", "not", "a",
          "prime", "between", "and", "or", "either", "more", "than", "multiple", "of"]
_PUNCTUATION = list("!?.,;:'\"()-")


def _random_text(rng: np.random.Generator, max_words: int = 7, messy: bool = True) -> str:
    words = list(rng.choice(_WORDS, size=int(rng.integers(0, max_words + 1))))
    if messy:
        words = [w.upper() if rng.random() < 0.2 else w.capitalize() if rng.random() < 0.2 else w
                 for w in words]
        words = [w + str(rng.choice(_PUNCTUATION)) if rng.random() < 0.3 else w for w in words]
    separators = [" " if not messy or rng.random() < 0.8 else str(rng.choice(["  ", "\t"]))
                  for _ in words]
    return "".join(sep + w for sep, w in zip(separators, words, strict=True)).strip()


def _same_list(received, expected):
    if not isinstance(received, (list, tuple)):
        return f"expected a list of strings, received {type(received).__name__}"
    received = [str(item) for item in received]
    if received == list(expected):
        return None
    return f"expected {list(expected)!r}, received {received!r}"


@register(
    "03.tokenize",
    hints=[
        "Three steps: lower-case, remove punctuation characters, split on whitespace.",
        "`string.punctuation` lists the characters to remove; `str.split()` with no argument "
        "splits on any run of spaces or tabs and drops empty pieces.",
    ],
)
def _tokenize_cases(rng: np.random.Generator) -> list[Case]:
    texts = [_random_text(rng) for _ in range(8)] + ["", "Seven!", "an  odd\tnumber."]
    return [Case(repr(t), args=(t,), expected=text.tokenize(t), compare=_same_list)
            for t in texts]


@register(
    "03.build_vocabulary",
    hints=[
        "Count every token of every text (use your tokenize), then sort the words by count, "
        "most frequent first; start the list with '' and '[UNK]'.",
        "Ties are broken like Keras's TextVectorization: reverse alphabetical order. One sort "
        "with a key made of (count, word), in descending order, handles both at once.",
    ],
)
def _vocabulary_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for count in [6, 1, 15]:
        texts = [_random_text(rng) for _ in range(count)]
        cases.append(Case(f"{count} texts, e.g. {texts[0]!r}", args=(texts,),
                          expected=text.build_vocabulary(texts), compare=_same_list))
    return cases


@register(
    "03.encode",
    hints=[
        "Look each token up in the vocabulary: its position is its id; a word that is not there "
        "gets id 1 ([UNK]).",
        "Keep at most max_length ids, then pad with 0 up to max_length.",
    ],
)
def _encode_cases(rng: np.random.Generator) -> list[Case]:
    vocabulary = text.build_vocabulary([_random_text(rng, messy=False) for _ in range(6)])
    cases = []
    for _ in range(6):
        sample, max_length = _random_text(rng, max_words=9), int(rng.integers(1, 9))
        cases.append(Case(f"{sample!r}, a {len(vocabulary)}-word vocabulary, max_length="
                          f"{max_length}", args=(sample, vocabulary, max_length),
                          expected=text.encode(sample, vocabulary, max_length)))
    cases.append(Case("'' (empty text), max_length=4", args=("", vocabulary, 4),
                      expected=np.zeros(4, dtype=np.int64)))
    return cases


@register(
    "03.one_hot",
    hints=[
        "Start from np.zeros((len(ids), num_vocab)) and put a 1 at [t, ids[t]] for every t.",
        "Padding (id 0) must stay an all-zero row, so skip positions where ids[t] == 0.",
    ],
)
def _one_hot_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(5):
        num_vocab, max_length = int(rng.integers(2, 40)), int(rng.integers(1, 10))
        ids = rng.integers(0, num_vocab, size=max_length)
        ids[int(rng.integers(0, max_length + 1)):] = 0  # trailing padding
        cases.append(Case(f"ids {ids.tolist()}, num_vocab={num_vocab}", args=(ids, num_vocab),
                          expected=text.one_hot_tokens(ids, num_vocab)))
    return cases
