"""Question/context pairs of chosen lengths, written as plain English prose (not random ids)."""

from __future__ import annotations

import random
from dataclasses import dataclass

# Each fact: (sentence, question, answer). The answer is a substring of the sentence.
FACTS: tuple[tuple[str, str, str], ...] = (
    (
        "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
        "When was the Eiffel Tower completed?",
        "1889",
    ),
    (
        "Ada Lovelace wrote the first published algorithm for Charles Babbage's Analytical Engine.",
        "Whose engine did Ada Lovelace write an algorithm for?",
        "Charles Babbage",
    ),
    (
        "The river Danube flows through ten countries before reaching the Black Sea.",
        "Where does the Danube end?",
        "the Black Sea",
    ),
    (
        "Marie Curie received the Nobel Prize in Chemistry in 1911 for discovering radium and polonium.",
        "What did Marie Curie discover?",
        "radium and polonium",
    ),
    (
        "The company moved its headquarters from Seattle to Austin in the spring of 2021.",
        "Where did the company move its headquarters?",
        "Austin",
    ),
    (
        "A blue whale's heart weighs about 180 kilograms, roughly as much as a motorcycle.",
        "How much does a blue whale's heart weigh?",
        "about 180 kilograms",
    ),
    (
        "The treaty was signed in Lisbon by twenty-seven heads of government on 13 December 2007.",
        "Where was the treaty signed?",
        "Lisbon",
    ),
    (
        "Photosynthesis converts carbon dioxide and water into glucose using energy from sunlight.",
        "What does photosynthesis produce?",
        "glucose",
    ),
    (
        "The new bridge spans 1,200 metres and carries four lanes of traffic and a railway line.",
        "How long is the new bridge?",
        "1,200 metres",
    ),
    (
        "Dr. Amara Okafor led the clinical trial, which enrolled 4,300 patients across nine hospitals.",
        "Who led the clinical trial?",
        "Dr. Amara Okafor",
    ),
    (
        "Mount Kilimanjaro, the highest mountain in Africa, rises 5,895 metres above sea level.",
        "How high is Mount Kilimanjaro?",
        "5,895 metres",
    ),
    (
        "The library's oldest manuscript is a twelfth-century copy of Boethius bound in calfskin.",
        "What is the oldest manuscript bound in?",
        "calfskin",
    ),
)

# Filler prose: sentences that carry no answer, so the answer's position moves with length.
FILLER: tuple[str, ...] = (
    "Visitors often remark on the quiet of the early morning, before the shops open.",
    "Several historians have argued that the records from this period are incomplete.",
    "The committee met twice a month and published its minutes in the local newspaper.",
    "Rainfall in the region varies widely from one year to the next.",
    "Engineers later replaced the original wooden supports with steel beams.",
    "Most of the early correspondence was lost in a fire at the archive.",
    "The population of the town doubled during the second half of the century.",
    "Critics praised the design for its clarity, although some found it severe.",
    "A small museum near the station displays tools, maps and photographs from the era.",
    "The agreement required both parties to report their progress every quarter.",
    "Students in the programme spend their final year working with local employers.",
    "Traffic on the main road has fallen since the bypass opened.",
    "The soil here is sandy and drains quickly after heavy rain.",
    "An independent review found that the budget had been underestimated by a third.",
    "The orchestra toured Europe and Asia before returning for its anniversary season.",
    "Many of the recipes use ingredients that were once expensive and hard to find.",
)


@dataclass(frozen=True)
class QaPair:
    """One request: a question, its context, and the expected answer text."""

    question: str
    context: str
    answer: str

    @property
    def context_words(self) -> int:
        return len(self.context.split())


def make_pair(words: int, seed: int) -> QaPair:
    """A context of about ``words`` words with one answerable fact at a random position."""
    rng = random.Random(seed)
    sentence, question, answer = FACTS[seed % len(FACTS)]
    body: list[str] = []
    while sum(len(s.split()) for s in body) < max(words - len(sentence.split()), 0):
        body.append(rng.choice(FILLER))
    body.insert(rng.randint(0, len(body)), sentence)
    return QaPair(question=question, context=" ".join(body), answer=answer)


def pairs_for(words: int, count: int) -> list[QaPair]:
    """``count`` different pairs, each of about ``words`` context words."""
    return [make_pair(words, seed=words * 1000 + i) for i in range(count)]
