"""Text documents for the check-in figure with the content pipeline on and
off (bench/run.py, section `pipeline`): plain UTF-8 files of about two
pages (3,000 characters) of Chinese words with Latin words among them,
drawn from fixed vocabularies with Zipf-like frequencies and a fixed seed,
so every run checks in the same bytes. Plain text is what the pipeline
extracts fastest; the figure is about check-in, which must not wait for
extraction in either case.
"""
import bisect
import os
import random

# Common simplified characters (a subset of bench/search_bench.cc's pool).
CHARS = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
         "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点"
         "从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原"
         "又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革")


def _vocabulary(rng, n, make):
    words, seen = [], set()
    while len(words) < n:
        w = make()
        if w not in seen:
            seen.add(w)
            words.append(w)
    cdf, total = [], 0.0
    for i in range(n):
        total += 1.0 / (i + 1)
        cdf.append(total)
    return words, [c / total for c in cdf]


def _draw(rng, vocab):
    words, cdf = vocab
    return words[min(bisect.bisect_left(cdf, rng.random()), len(words) - 1)]


def text(rng, chinese, latin, chars=3000):
    parts, n, words = [], 0, 0
    while n < chars:
        if rng.random() < 0.8:
            w = _draw(rng, chinese)
            n += len(w)
        else:
            w = " " + _draw(rng, latin) + " "
            n += len(w)
        parts.append(w)
        words += 1
        if words % 9 == 0:
            parts.append("。\n" if words % 27 == 0 else "，")
            n += 1
    return "".join(parts)


def generate(root, count, seed=20261207):
    """Writes `count` files root/doc00000.txt, ...; returns their paths
    relative to root's parent and their total bytes."""
    rng = random.Random(seed)
    chinese = _vocabulary(rng, 5000, lambda: "".join(rng.choice(CHARS) for _ in range(rng.choice((2, 2, 2, 4)))))
    latin = _vocabulary(rng, 2000, lambda: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                                                  for _ in range(rng.randint(4, 10))))
    os.makedirs(root, exist_ok=True)
    rel, total = [], 0
    base = os.path.basename(root.rstrip("/"))
    for i in range(count):
        name = f"doc{i:05d}.txt"
        data = (f"合同 contract {i:05d}\n" + text(rng, chinese, latin)).encode()
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
        rel.append(os.path.join(base, name))
        total += len(data)
    return rel, total
