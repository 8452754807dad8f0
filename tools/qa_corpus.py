"""A synthetic extractive-QA corpus written here (no downloads), for training a small ALBERT.

Contexts are short encyclopaedia-style paragraphs (about 90-170 words) about a few invented
people, organisations and towns: fact sentences from templates, each of which answers one
question, mixed with distractor sentences that carry the same kinds of values (dates, numbers,
names, places) without answering anything. Every question's answer is an exact character span of
its context (``context[answer_start:answer_start + len(answer_text)] == answer_text``).

The held-out split tests generalisation, not memorisation:

- **entity values**: every value (first name, surname, town, river, organisation stem,
  profession, year, number) belongs to exactly one split by a stable hash (:func:`value_split`);
  training text never contains a held-out value, so every held-out answer is a value the model
  never saw during training;
- **templates**: each relation has sentence templates and question phrasings reserved for the
  held-out split (new word orders over known words); held-out examples draw from all templates,
  so about a third of them meet an unseen sentence or question template (flags on each example).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Split = Literal["train", "heldout"]
SPLITS: tuple[Split, ...] = ("train", "heldout")
#: One value in HELDOUT_MODULUS goes to the held-out split.
HELDOUT_MODULUS = 4


def value_split(value: str) -> Split:
    """The split a value belongs to, by a stable hash of its lower-cased text."""
    return (
        "heldout" if zlib.crc32(value.lower().encode("utf-8")) % HELDOUT_MODULUS == 0 else "train"
    )


# --- entity values -----------------------------------------------------------------------------

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Anton", "Aylin", "Beatriz", "Bruno", "Camille", "Carlos", "Chen",
    "Clara", "Dario", "Dmitri", "Elena", "Emil", "Esther", "Farid", "Fatima", "Felix", "Greta",
    "Hana", "Hugo", "Ines", "Ivan", "Jamal", "Jonas", "Julia", "Kai", "Karin", "Kenji", "Lars",
    "Leila", "Lena", "Luca", "Maja", "Malik", "Marta", "Mateo", "Mei", "Milan", "Nadia", "Nikolai",
    "Nora", "Olga", "Omar", "Oskar", "Paula", "Pedro", "Priya", "Rafael", "Rosa", "Ruth", "Samir",
    "Sara", "Sven", "Tariq", "Tomas", "Ursula", "Vera", "Viktor", "Wanda", "Yara", "Yusuf", "Zofia",
    "Agnes", "Boris", "Celia", "Daniel", "Edith", "Franz", "Gustav", "Helga", "Isaac", "Jorge",
    "Klaus", "Lucia", "Marcel", "Nina", "Otto", "Petra", "Quentin", "Rita", "Stefan", "Teresa",
    "Ulrich", "Valeria", "Walter", "Ximena", "Yvonne", "Zoran", "Anika", "Bashir", "Cyrus", "Dalia",
    "Eero", "Freya", "Goran", "Hiro", "Imre", "Jana", "Kofi", "Linnea", "Moritz", "Noor", "Ola",
)  # fmt: skip
SURNAMES = (
    "Abbott", "Alvarez", "Andersson", "Baker", "Bauer", "Becker", "Bianchi", "Brennan", "Castro",
    "Costa", "Dahl", "Dubois", "Eriksen", "Fischer", "Fontaine", "Garcia", "Greco", "Hansen",
    "Hartmann", "Horvath", "Ivanova", "Jansen", "Kaplan", "Keller", "Kowalski", "Kruger", "Lambert",
    "Larsen", "Lindgren", "Lopez", "Marino", "Meyer", "Moreau", "Nakamura", "Novak", "Okafor",
    "Olsen", "Ortega", "Petrov", "Popescu", "Quinn", "Reyes", "Richter", "Romano", "Rossi",
    "Santos", "Schmidt", "Silva", "Sokolov", "Tanaka", "Torres", "Varga", "Vogel", "Wagner",
    "Weber", "Wolff", "Yamada", "Zeller", "Zielinski", "Albrecht", "Barros", "Carvalho", "Delgado",
    "Engel", "Ferreira", "Gallo", "Haas", "Ibsen", "Jovanovic", "Koch", "Lehmann", "Mendes", "Nagy",
    "Ozturk", "Pereira", "Ramos", "Sato", "Thorsen", "Uddin", "Valdez", "Winter", "Xavier",
    "Young", "Zimmermann", "Adler", "Brandt", "Conti", "Dimitrov", "Eklund", "Fuchs", "Gruber",
)  # fmt: skip
PROFESSIONS = (
    "architect", "engineer", "nurse", "pharmacist", "geologist", "journalist", "carpenter",
    "surgeon", "teacher", "librarian", "photographer", "economist", "chemist", "pilot",
    "translator", "baker", "lawyer", "veterinarian", "astronomer", "electrician", "painter",
    "accountant", "biologist", "firefighter", "historian", "mechanic", "composer", "dentist",
    "gardener", "programmer", "sculptor", "statistician", "tailor", "surveyor", "midwife",
    "botanist", "cartographer", "glassblower", "locksmith", "physicist", "editor", "chef",
)  # fmt: skip
ORG_KINDS = (
    "Industries", "Laboratories", "Bank", "Motors", "Foods", "Systems", "Group", "Partners",
    "Institute", "Shipping", "Textiles", "Energy", "Publishing", "Pharmaceuticals", "Airlines",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr",
           "st", "tr", "kl", "gr", "sh", "th")  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ei", "ou", "ia")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "th", "nd")


def _coined_word(rng: random.Random, syllables: int) -> str:
    word = "".join(
        rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
    )
    return word.capitalize()


@lru_cache(maxsize=1)
def _coined(count: int = 3000, seed: int = 7) -> tuple[str, ...]:
    """Distinct invented words (towns, rivers, organisation stems), deterministic."""
    rng = random.Random(seed)
    words: dict[str, None] = {}
    while len(words) < count:
        word = _coined_word(rng, rng.choice((2, 2, 3)))
        if 4 <= len(word) <= 11:
            words[word] = None
    return tuple(words)


@dataclass(frozen=True)
class Pools:
    """The entity values one split may use."""

    first_names: tuple[str, ...]
    surnames: tuple[str, ...]
    professions: tuple[str, ...]
    towns: tuple[str, ...]
    rivers: tuple[str, ...]
    org_stems: tuple[str, ...]
    years: tuple[int, ...]


@lru_cache(maxsize=2)
def pools(split: Split) -> Pools:
    """Entity values of ``split``; the two splits share none."""
    coined = _coined()
    third = len(coined) // 3

    def keep(values: Sequence[str]) -> tuple[str, ...]:
        return tuple(v for v in values if value_split(v) == split)

    return Pools(
        first_names=keep(FIRST_NAMES),
        surnames=keep(SURNAMES),
        professions=keep(PROFESSIONS),
        towns=keep(coined[:third]),
        rivers=keep(coined[third : 2 * third]),
        org_stems=keep(coined[2 * third :]),
        years=tuple(y for y in range(1750, 2021) if value_split(str(y)) == split),
    )


def _number(rng: random.Random, split: Split, low: int, high: int, *, commas: bool = True) -> str:
    """A number in [low, high] of ``split`` (by its digits), formatted like prose."""
    while True:
        n = rng.randint(low, high)
        if n >= 1000:
            n = round(n, -2)  # round figures, as prose has them
        if value_split(str(n)) == split:
            return f"{n:,}" if commas else str(n)


# --- templates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """A kind of fact: sentence templates ({s} subject, {a} answer) and question phrasings.

    The last ``heldout_sentences`` sentences and last ``heldout_questions`` questions are
    reserved for the held-out split.
    """

    name: str
    subject: Literal["person", "org", "town"]
    sentences: tuple[str, ...]
    questions: tuple[str, ...]
    heldout_sentences: int = 1
    heldout_questions: int = 1

    def sentence_pool(self, split: Split) -> tuple[str, ...]:
        return self.sentences if split == "heldout" else self.sentences[: -self.heldout_sentences]

    def question_pool(self, split: Split) -> tuple[str, ...]:
        return self.questions if split == "heldout" else self.questions[: -self.heldout_questions]

    def seen(self, template: str) -> bool:
        """Whether a template (sentence or question) is used in training."""
        return template in self.sentence_pool("train") or template in self.question_pool("train")


RELATIONS: tuple[Relation, ...] = (
    Relation(
        "birthplace",
        "person",
        (
            "{s} was born in {a}.",
            "{s} was born in the town of {a} and went to school there.",
            "Born in {a}, {s} moved away as a young adult.",
            "The town of {a} is where {s} was born.",
        ),
        (
            "Where was {s} born?",
            "In which town was {s} born?",
            "What is the birthplace of {s}?",
            "{s} was born in which town?",
        ),
    ),
    Relation(
        "birthdate",
        "person",
        (
            "{s} was born on {a}.",
            "{s}, who was born on {a}, has two brothers.",
            "On {a}, {s} was born.",
        ),
        (
            "When was {s} born?",
            "On what date was {s} born?",
            "What is the date of birth of {s}?",
            "{s} was born on which date?",
        ),
    ),
    Relation(
        "profession",
        "person",
        (
            "{s} works as {art} {a}.",
            "By profession, {s} is {art} {a}.",
            "After years of study, {s} became {art} {a}.",
            "{s} has earned a living as {art} {a} for many years.",
        ),
        (
            "What is the profession of {s}?",
            "What does {s} do for a living?",
            "What job does {s} have?",
            "{s} works as what?",
        ),
    ),
    Relation(
        "employer",
        "person",
        (
            "{s} works for {a}.",
            "{s} joined {a} after finishing school.",
            "{s} is employed by {a}.",
            "{a} has employed {s} since the company was small.",
        ),
        (
            "Which company does {s} work for?",
            "Who employs {s}?",
            "Where does {s} work?",
            "{s} is employed by which company?",
        ),
    ),
    Relation(
        "founded_year",
        "org",
        (
            "{s} was founded in {a}.",
            "{s} was established in {a}.",
            "Since its founding in {a}, {s} has grown steadily.",
            "The year {a} saw the founding of {s}.",
        ),
        (
            "When was {s} founded?",
            "In what year was {s} established?",
            "In which year was {s} founded?",
            "{s} was founded in which year?",
        ),
    ),
    Relation(
        "headquarters",
        "org",
        (
            "{s} is headquartered in {a}.",
            "{s} has its head office in {a}.",
            "The head office of {s} is in {a}.",
            "It is in {a} that {s} keeps its headquarters.",
        ),
        (
            "Where is {s} headquartered?",
            "Where is the head office of {s}?",
            "In which town is {s} headquartered?",
            "{s} has its head office in which town?",
        ),
    ),
    Relation(
        "employees",
        "org",
        (
            "{s} employs {a} people.",
            "{s} has {a} employees.",
            "Today {s} has a staff of {a} people.",
            "A total of {a} people work for {s}.",
        ),
        (
            "How many people does {s} employ?",
            "How many employees does {s} have?",
            "How large is the staff of {s}?",
            "What is the number of employees at {s}?",
        ),
    ),
    Relation(
        "founder",
        "org",
        (
            "{s} was founded by {a}.",
            "{a} founded {s}.",
            "The founder of {s} was {a}.",
            "It was {a} who founded {s}.",
        ),
        (
            "Who founded {s}?",
            "Who was the founder of {s}?",
            "Which person founded {s}?",
            "{s} was founded by whom?",
        ),
    ),
    Relation(
        "population",
        "town",
        (
            "{s} has a population of {a}.",
            "About {a} people live in {s}.",
            "The population of {s} is {a}.",
            "With {a} inhabitants, {s} is a busy place.",
        ),
        (
            "What is the population of {s}?",
            "How many people live in {s}?",
            "How large is the population of {s}?",
            "{s} has a population of how many people?",
        ),
    ),
    Relation(
        "river",
        "town",
        (
            "{s} lies on the {a} River.",
            "The {a} River flows through {s}.",
            "{s} was built on the banks of the {a} River.",
            "The river that flows through {s} is the {a}.",
        ),
        (
            "Which river flows through {s}?",
            "On which river does {s} lie?",
            "What river was {s} built on?",
            "{s} lies on which river?",
        ),
    ),
    Relation(
        "bridge_length",
        "town",
        (
            "The main bridge in {s} is {a} long.",
            "The main bridge of {s} measures {a}.",
            "In {s} the main bridge is {a} long.",
            "Spanning {a}, the main bridge in {s} is famous.",
        ),
        (
            "How long is the main bridge in {s}?",
            "What is the length of the main bridge in {s}?",
            "How long is the main bridge of {s}?",
            "The main bridge in {s} is how long?",
        ),
    ),
    Relation(
        "mayor",
        "town",
        (
            "The mayor of {s} is {a}.",
            "{a} serves as the mayor of {s}.",
            "{s} elected {a} as its mayor.",
            "Since the last election, {a} has been mayor of {s}.",
        ),
        (
            "Who is the mayor of {s}?",
            "Who serves as the mayor of {s}?",
            "Who was elected mayor of {s}?",
            "The mayor of {s} is who?",
        ),
    ),
)
RELATIONS_BY_SUBJECT: dict[str, tuple[Relation, ...]] = {
    kind: tuple(r for r in RELATIONS if r.subject == kind) for kind in ("person", "org", "town")
}

#: Sentences that answer nothing but carry the same kinds of values ({t} town, {p} person,
#: {o} organisation, {y} year, {n} number, {m} month, {r} river).
DISTRACTORS = (
    "A new library opened in {t} in {y}.",
    "The winter of {y} was unusually cold in {t}.",
    "Local newspapers reported {n} visitors at the spring fair.",
    "Many residents enjoy walking along the {r} River in {m}.",
    "{p} once gave a short talk at the museum in {t}.",
    "The annual report of {o} is published every {m}.",
    "A storm in {m} {y} closed several roads near {t}.",
    "Tickets for the concert sold out within a few hours.",
    "The old railway station was restored after many years of neglect.",
    "Visitors often stop at the market square to buy fresh bread.",
    "Around {n} cyclists took part in the race last summer.",
    "{o} sponsored a football team for a few seasons.",
    "The harbour is quiet during the first weeks of {m}.",
    "Some historians believe the first settlers arrived around {y}.",
    "{p} wrote a letter to the council about the new park.",
    "The festival in {t} attracts musicians from many countries.",
)


# --- examples ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QaExample:
    """One question about one context; the answer is an exact span of the context."""

    id: str
    split: Split
    question: str
    context: str
    answer_text: str
    answer_start: int
    relation: str
    sentence_template_seen: bool
    question_template_seen: bool

    @property
    def answer_end(self) -> int:
        return self.answer_start + len(self.answer_text)

    @property
    def all_templates_seen(self) -> bool:
        return self.sentence_template_seen and self.question_template_seen


@dataclass(frozen=True)
class _Fact:
    relation: Relation
    subject: str
    answer: str


def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


class _Drawer:
    """Draws distinct entity values of one split for one context."""

    def __init__(self, rng: random.Random, split: Split) -> None:
        self.rng = rng
        self.split = split
        self.pools = pools(split)
        self.used: set[str] = set()

    def _fresh(self, make: Callable[[], str]) -> str:
        for _ in range(100):
            value = str(make())
            if value not in self.used:
                self.used.add(value)
                return value
        raise RuntimeError("could not draw a distinct value")

    def person(self) -> str:
        p, rng = self.pools, self.rng
        return self._fresh(lambda: f"{rng.choice(p.first_names)} {rng.choice(p.surnames)}")

    def town(self) -> str:
        return self._fresh(lambda: self.rng.choice(self.pools.towns))

    def river(self) -> str:
        return self._fresh(lambda: self.rng.choice(self.pools.rivers))

    def org(self) -> str:
        p, rng = self.pools, self.rng
        return self._fresh(lambda: f"{rng.choice(p.org_stems)} {rng.choice(ORG_KINDS)}")

    def year(self) -> str:
        return str(self.rng.choice(self.pools.years))

    def date(self) -> str:
        rng = self.rng
        return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {self.year()}"

    def number(self, low: int, high: int) -> str:
        return _number(self.rng, self.split, low, high)

    def answer(self, relation: Relation) -> str:
        rng = self.rng
        match relation.name:
            case "birthplace" | "headquarters":
                return self.town()
            case "birthdate":
                return self.date()
            case "profession":
                return rng.choice(self.pools.professions)
            case "employer":
                return self.org()
            case "founded_year":
                return self.year()
            case "employees":
                return self.number(12, 90_000)
            case "founder" | "mayor":
                return self.person()
            case "population":
                return self.number(800, 900_000)
            case "river":
                return self.river()
            case "bridge_length":
                return f"{_number(rng, self.split, 40, 2400, commas=False)} metres"
        raise ValueError(f"unknown relation {relation.name}")

    def distractor(self) -> str:
        rng = self.rng
        template = rng.choice(DISTRACTORS)
        values = {
            "t": self.rng.choice(self.pools.towns),
            "p": f"{rng.choice(self.pools.first_names)} {rng.choice(self.pools.surnames)}",
            "o": f"{rng.choice(self.pools.org_stems)} {rng.choice(ORG_KINDS)}",
            "y": self.year(),
            "n": self.number(100, 50_000),
            "m": rng.choice(MONTHS),
            "r": rng.choice(self.pools.rivers),
        }
        return template.format(**values)


def _sentence(template: str, fact: _Fact) -> tuple[str, int]:
    """The sentence for ``fact`` and the answer's offset in it."""
    text = template.replace("{s}", fact.subject).replace("{art}", _article(fact.answer))
    offset = text.index("{a}")
    text = text.replace("{a}", fact.answer, 1)
    return text[0].upper() + text[1:], offset


def make_context(
    rng: random.Random,
    split: Split,
    *,
    min_words: int = 90,
    max_words: int = 170,
    max_facts: int | None = None,
    max_subjects: int | None = None,
) -> tuple[str, list[tuple[_Fact, str, int]]]:
    """A context and its facts: (fact, sentence template, answer offset in the context).

    ``max_facts`` caps the facts per subject and ``max_subjects`` the subjects (short contexts
    for a training curriculum).
    """
    drawer = _Drawer(rng, split)
    subjects: list[tuple[str, str]] = [
        ("person", drawer.person()) for _ in range(rng.randint(1, 2))
    ]
    subjects += [("org", drawer.org())]
    subjects += [("town", drawer.town()) for _ in range(rng.randint(1, 2))]
    rng.shuffle(subjects)
    subjects = subjects[:max_subjects]
    target = rng.randint(min_words, max_words)
    # Facts grouped by subject (as encyclopaedia prose is), distractors anywhere in between.
    blocks: list[list[_Fact]] = []
    for kind, subject in subjects:
        relations = list(RELATIONS_BY_SUBJECT[kind])
        rng.shuffle(relations)
        chosen = relations[: rng.randint(2, min(max_facts or len(relations), len(relations)))]
        blocks.append([_Fact(r, subject, drawer.answer(r)) for r in chosen])
    items: list[_Fact | str] = [fact for block in blocks for fact in block]
    words = sum(len(r.relation.sentences[0].split()) + 1 for r in items if isinstance(r, _Fact))
    while words < target:
        sentence = drawer.distractor()
        items.insert(rng.randint(0, len(items)), sentence)
        words += len(sentence.split())
    parts: list[str] = []
    facts: list[tuple[_Fact, str, int]] = []
    position = 0
    for item in items:
        if isinstance(item, str):
            text = item
        else:
            template = rng.choice(item.relation.sentence_pool(split))
            text, offset = _sentence(template, item)
            facts.append((item, template, position + offset))
        parts.append(text)
        position += len(text) + 1
    return " ".join(parts), facts


def _question(template: str, fact: _Fact) -> str:
    text = template.replace("{s}", fact.subject)
    return text[0].upper() + text[1:]


def generate(
    split: Split,
    n_contexts: int,
    *,
    questions_per_context: int = 3,
    seed: int = 0,
    short: bool = False,
) -> Iterator[QaExample]:
    """Examples of ``split`` from ``n_contexts`` contexts (deterministic for a seed).

    ``short`` contexts (10-40 words: two or three subjects, two facts each) are an easier curriculum
    stage for training; the held-out split uses the default, full-length contexts.
    """
    rng = random.Random(f"{split}:{seed}:short" if short else f"{split}:{seed}")
    for c in range(n_contexts):
        if short:
            context, facts = make_context(
                rng, split, min_words=10, max_words=40, max_facts=2, max_subjects=rng.randint(2, 3)
            )
        else:
            context, facts = make_context(rng, split)
        chosen = rng.sample(facts, min(questions_per_context, len(facts)))
        for q, (fact, sentence_template, start) in enumerate(chosen):
            question_template = rng.choice(fact.relation.question_pool(split))
            yield QaExample(
                id=f"{split}-{seed}-{c}-{q}",
                split=split,
                question=_question(question_template, fact),
                context=context,
                answer_text=fact.answer,
                answer_start=start,
                relation=fact.relation.name,
                sentence_template_seen=fact.relation.seen(sentence_template),
                question_template_seen=fact.relation.seen(question_template),
            )


def describe() -> dict[str, object]:
    """Facts about the corpus design, for the report."""
    return {
        "relations": [r.name for r in RELATIONS],
        "sentence_templates": sum(len(r.sentences) for r in RELATIONS),
        "question_templates": sum(len(r.questions) for r in RELATIONS),
        "heldout_only_sentence_templates": sum(r.heldout_sentences for r in RELATIONS),
        "heldout_only_question_templates": sum(r.heldout_questions for r in RELATIONS),
        "distractor_templates": len(DISTRACTORS),
        "values": {
            split: {
                "first_names": len(pools(split).first_names),
                "surnames": len(pools(split).surnames),
                "professions": len(pools(split).professions),
                "towns": len(pools(split).towns),
                "rivers": len(pools(split).rivers),
                "organisation_stems": len(pools(split).org_stems),
                "years": len(pools(split).years),
            }
            for split in SPLITS
        },
    }
