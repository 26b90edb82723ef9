"""Demo book descriptions: two to four paragraphs from sentence templates by genre family (demo data only).

A blurb picks an opening, a turn, the stakes and a line of praise for its family, fills them with a person, a
place and a thing of its own, and sometimes adds a paragraph on the series or the author; so no two read the
same, and the same random state always writes the same blurb. Paragraphs are separated by a blank line.
"""
from __future__ import annotations

import random

from faker.providers.person.en_US import Provider as PersonNames

from .words import ADJECTIVES, JOBS, KIN, NOUNS, PLACES, THINGS

FAMILY = {
    "Crime": "crime", "Mystery": "crime", "Thriller": "crime",
    "Fantasy": "speculative", "Science Fiction": "speculative", "Horror": "speculative",
    "Children's": "young", "Young Adult": "young", "Poetry": "poetry",
    "Biography": "nonfiction", "Business": "nonfiction", "Cookery": "nonfiction", "History": "nonfiction",
    "Philosophy": "nonfiction", "Science": "nonfiction", "Self-Help": "nonfiction", "Travel": "nonfiction",
}  # anything else (Literary Fiction, Classics, Romance, Humour): "literary"

OPENINGS = {
    "crime": [
        "When {thing} turns up in the harbour at {place}, {hero}, {job}, is the only one who knows what it means.",
        "{hero} has kept one secret for twenty years. On the night of the first frost in {place}, someone else learns it.",
        "The body on the {noun_l} road is the third this winter, and {hero} is running out of people to trust.",
        "Nobody in {place} saw {hero}'s {kin} leave the party. By morning, nobody will admit they were there.",
    ],
    "speculative": [
        "In {place}, where the {noun_l}s have not sung for a hundred years, {hero} hears one at dawn.",
        "{hero} was {job} until the {adj_l} tide came in and did not go out again.",
        "Every child in {place} is given a {noun_l} at birth. {hero}'s has just gone dark.",
        "The last ship from {place} carries {thing}, and {hero} has been paid not to ask what else.",
    ],
    "literary": [
        "The summer {hero} turns forty, {hero_p} {kin} comes home to {place} with {thing} and no explanation.",
        "{hero} has spent a lifetime as {job} in {place}, tending other people's stories and never telling {hero_p} own.",
        "It begins with {thing}, found in the wall of a house in {place} that {hero} was supposed to sell.",
        "For three generations the women of the {adj} {noun} have kept the same promise. {hero} means to break it.",
    ],
    "young": [
        "{hero} is eleven and three-quarters, and absolutely sure there is a {noun_l} living under the stairs.",
        "Nobody at school believes {hero} about {thing}. That is about to become a very big problem.",
        "{hero} has one summer in {place}, one borrowed bicycle and one chance to find {hero_p} {kin}.",
        "The new kid in {place} says the {adj_l} {noun_l} is only a story. {hero} knows better.",
    ],
    "poetry": [
        "These poems walk the shoreline of {place}, listening for what the {noun_l}s remember.",
        "A first collection about {kin}s, weather and the {adj_l} grammar of leaving home.",
        "Written over ten winters in {place}, these poems ask what we keep and what keeps us.",
    ],
    "nonfiction": [
        "What can {topic_l} teach us about how we live now? More than you might think.",
        "From the markets of {place} to the kitchen table, this is the story of {topic_l} as you have never read it.",
        "In this lively, generous book, a former {job_bare} turns to {topic_l} and finds a whole world.",
        "For centuries {topic_l} has shaped {place} and the people in it. This book shows how.",
    ],
}
TURNS = {
    "crime": [
        "The police have their answer, and it is the wrong one.",
        "Every lead goes back to {thing}, and to a night in {year} that {hero} has spent a lifetime forgetting.",
        "With a storm closing the only road out, {hero} has until morning to find the truth.",
    ],
    "speculative": [
        "To set things right {hero} must cross the {adj_l} {noun_l}, where maps stop and old promises begin.",
        "What {hero} finds there will change what it means to be human, or to be remembered.",
        "Beside {hero_p} {kin}, who has reasons of {hero_p} own, {hero} sets out for the edge of the known world.",
    ],
    "literary": [
        "Over one long, bright season, old loyalties fray and a family learns what it owes the people it left behind.",
        "Moving between {place} in {year} and the present day, the novel pieces together a life nobody wanted told.",
        "What follows is a quiet reckoning with love, memory and the {adj_l} work of forgiveness.",
    ],
    "young": [
        "With the help of a grumpy cat, a very old map and a neighbour who knows too much, {hero} sets off.",
        "Soon {hero} is in the middle of the biggest adventure {place} has ever seen.",
        "It will take courage, a lot of sandwiches and one enormous secret to put things right.",
    ],
    "poetry": [
        "Some are elegies, some are love songs, and some are simply lists of what the light did on a Tuesday.",
        "Spare and tender, they move from the kitchen to the coast and back again.",
    ],
    "nonfiction": [
        "Drawing on years of research and conversations in {place}, the book moves easily from history to the present.",
        "Full of surprising stories, practical wisdom and the occasional {adj_l} detour, it is a pleasure to read.",
        "Along the way we meet {job}s, dreamers and one remarkably stubborn {noun_l}.",
    ],
}
PRAISE = [
    "“{adj2} and wise. I read it in a single sitting.” — The {place_bare} Review",
    "Moving, sharp and full of heart, it is the kind of book you press into a friend's hands.",
    "Readers who love a story with a {adj_l} heart will not be able to put it down.",
    "“The best thing I have read this year.” — {critic}, {paper}",
    "Meticulously researched and beautifully written, it rewards every page.",
    "Funny, humane and quietly devastating.",
    "A page-turner with a twist you will not see coming.",
    "Shortlisted for the {adj} {noun} Prize.",
]
AUTHOR_NOTES = [
    "{author} lives in {place} with a dog, too many books and a view of the water. This is the {nth} book by {author}.",
    "Before writing, {author} worked as {job} and then as a bookseller. {title} is the {nth} book by {author}.",
    "{author} grew up in {place} and now teaches writing; the earlier books have been translated into {n} languages.",
]
SERIES_NOTES = [
    "{title} is book {number} of {series}, and can be read on its own.",
    "The {nth_series} book in {series}: new readers are welcome, and old friends will find plenty to love.",
    "Book {number} of {series}. Each one stands alone, but together they tell a larger story.",
]
_NTH = ["first", "second", "third", "fourth", "fifth", "sixth"]
_PAPERS = ["The Morning Courier", "The Harbour Times", "The Literary Quarterly", "Northern Review", "The Weekly Lamp"]
_HEROES = [(list(PersonNames.first_names_female), "her"), (list(PersonNames.first_names_male), "his")]
_FIRST_NAMES = list(PersonNames.first_names)
_LAST_NAMES = list(PersonNames.last_names)


def description(rng: random.Random, genre: str, title: str, author: str, topic: str,
                series: tuple[str, int] | None) -> str:
    """Two to four paragraphs for a book of `genre` (see the module docstring)."""
    family = FAMILY.get(genre, "literary")
    place = rng.choice(PLACES)
    job = rng.choice(JOBS)
    names, pronoun = rng.choice(_HEROES)
    values = {
        "hero": rng.choice(names), "hero_p": pronoun, "job": job,
        "job_bare": job.split(" ", 1)[1], "place": place, "place_bare": place.removeprefix("the "),
        "kin": rng.choice(KIN), "thing": rng.choice(THINGS), "noun": rng.choice(NOUNS),
        "noun_l": rng.choice(NOUNS).lower(), "adj": rng.choice(ADJECTIVES), "adj_l": rng.choice(ADJECTIVES).lower(),
        "adj2": rng.choice(["Luminous", "Gripping", "Tender", "Dazzling", "Unsettling", "Warm"]),
        "year": rng.randint(1921, 1999), "topic_l": topic.lower(), "title": title, "author": author,
        "critic": f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}", "paper": rng.choice(_PAPERS),
        "nth": rng.choice(_NTH[1:]), "n": rng.randint(3, 30),
    }
    turns = rng.sample(TURNS[family], 2)
    first = f"{rng.choice(OPENINGS[family])} {turns[0]}"
    paragraphs = [first.format(**values)]
    second = [turns[1], rng.choice(PRAISE)]
    if rng.random() < 0.7:
        paragraphs.append(" ".join(second).format(**values))
    else:
        paragraphs += [second[0].format(**values), second[1].format(**values)]
    if series is not None:
        name, number = series
        note = rng.choice(SERIES_NOTES)
        paragraphs.append(note.format(title=title, number=number, series=name,
                                      nth_series=_NTH[number - 1] if number <= len(_NTH) else f"{number}th"))
    elif rng.random() < 0.3:
        paragraphs.append(rng.choice(AUTHOR_NOTES).format(**values))
    return "\n\n".join(paragraphs[:4])
