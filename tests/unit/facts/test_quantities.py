"""Quantities (pipeline/facts/quantities.py), on the seed articles and on NewsQuant-style sentences."""

from __future__ import annotations

import pytest

from tests.conftest import snippet


@pytest.mark.parametrize(
    ("seed", "text", "value", "high", "qualifier", "unit", "counted"),
    [
        ("000", "more than 190,000 apprehensions", 190_000, None, "more than", None, "apprehensions"),
        ("000", "exceeded two million", 2_000_000, None, "more than", None, "people"),
        ("000", "up to 10,000 people a day", 10_000, None, "up to", None, "people"),
        ("000", "about 7,000 people", 7_000, None, "about", None, "people"),
        ("000", "about 1,000 miles", 1_000, None, "about", "mile", None),
        ("001", "over 190,000 people", 190_000, None, "over", None, "people"),
        ("001", "more than two million persons", 2_000_000, None, "more than", None, "persons"),
        ("001", "roughly 7,000 migrants", 7_000, None, "roughly", None, "migrants"),
        ("002", "around 3,000 people", 3_000, None, "around", None, "people"),
        ("002", "approximately 5,000 people", 5_000, None, "approximately", None, "people"),
        ("002", "more than 400,000 people", 400_000, None, "more than", None, "people"),
        ("003", "At least 7,000 migrants", 7_000, None, "at least", None, "migrants"),
        ("003", "14 buses", 14, None, None, None, "buses"),
        ("004", "between 6,000 and 10,000 people", 6_000, 10_000, "between", None, "people"),
        ("004", "about 1,600 miles", 1_600, None, "about", "mile", None),
    ],
)
def test_quantities(seed_facts, seed, text, value, high, qualifier, unit, counted) -> None:
    matches = [q for q in seed_facts[seed].quantities if q.text == text]
    assert matches, [q.text for q in seed_facts[seed].quantities]
    q = matches[0]
    assert (q.value, q.high, q.qualifier, q.unit, q.counted) == (value, high, qualifier, unit, counted)
    assert text in q.sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "It would play a significant role in the US election of 2024.",
        "In both the fiscal years 2022 and 2023, there were more than two million persons detained.",
        "Speaking ahead of the summit he warned that it could become a key issue in the 2024 US election.",
        "Additionally, for the first time on Wednesday, Eric Adams signed an order.",
        "Later, during the institution of Title 42, Mexico agreed to take in migrants.",
    ],
)
def test_no_quantities_for_years_ordinals_or_names(extractor, sentence: str) -> None:
    values = {q.value for q in extractor.extract(snippet("Headline", sentence)).quantities}
    assert not values & {2024, 2022, 2023, 1, 42}


@pytest.mark.parametrize(
    ("sentence", "value", "unit", "qualifier"),
    [
        ("The program cost $1.5 billion last year.", 1.5e9, "USD", None),
        ("Apprehensions fell by nearly 40% in January.", 40, "percent", "nearly"),
        ("Bus companies must give 32 hours' notice.", 32, "hour", None),
    ],
)
def test_quantity_units(extractor, sentence: str, value: float, unit: str, qualifier: str | None) -> None:
    (q,) = extractor.extract(snippet("Headline", sentence)).quantities
    assert (q.value, q.unit, q.qualifier) == (value, unit, qualifier)


# --- quantities as NewsQuant counts them -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("MIT researchers say nuclear fusion will feed the grid in 15 years.", [(15, None, "year", None)]),
        ("A year ago petrol averaged roughly $2.11 per gallon.", [(2.11, None, "USD per gallon", None)]),
        ("Vecturas shares rose 6.5% to 164p.", [(6.5, None, "percent", None), (164, None, "pence", None)]),
        ("It marked a record in March with sales of 5835 units.", [(5835, None, None, "units")]),
        (
            "A fine of 10.5 million Australian dollars was set.",
            [(10_500_000, None, "AUD", None)],
        ),
        ("Rimasauskas, a 50 year-old man, pled guilty.", [(50, None, "years of age", None)]),
        ("It was one of the most spectacular catches ever.", [(1, None, None, "catches")]),
        # Numbers in names are not quantities.
        ("Campbells team was picked to finish behind Oklahoma in the Big 12.", []),
        ("In the S P 500 utilities are holding up better.", []),
        ("We went hands-on with the new Apple Watch 5 to see if it is special.", []),
        (
            "The Popolocas built the temple at a complex known as Ndachjian-Tehuacan between A.D. 1000 "
            "and 1260 and were later conquered by the Aztecs.",
            [],
        ),
    ],
)
def test_quantities_newsquant_style(extractor, sentence: str, expected) -> None:
    quantities = extractor.extract(snippet("", sentence)).quantities
    assert [(q.value, q.high, q.unit, q.counted) for q in quantities] == expected


# --- units from pint and the CLDR, rates, bounds ------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Police seized 450 kg of cocaine.", [(450, "kilogram")]),
        ("Winds reached 120 mph, or about 190 km/h.", [(120, "mile per hour"), (190, "kilometer per hour")]),
        ("The fire burned about 3,000 square kilometres.", [(3_000, "square kilometer")]),
        ("The plant will generate 5 megawatts.", [(5, "megawatt")]),
        ("The phone has 4GB of RAM and a 6.1-inch screen.", [(4, "gigabyte"), (6.1, "inch")]),
        (
            "Temperatures reached 40C, or 104 degrees Fahrenheit.",
            [(40, "degree Celsius"), (104, "degree Fahrenheit")],
        ),
        ("Unemployment stood at 4.1pc and fell 3 per cent.", [(4.1, "percent"), (3, "percent")]),
        ("The rate was raised by 25 basis points.", [(25, "basis points")]),
        ("A 30-year-old man was arrested.", [(30, "years of age")]),
    ],
)
def test_physical_units_come_from_the_registry(extractor, sentence: str, expected) -> None:
    quantities = extractor.extract(snippet("", sentence)).quantities
    assert [(q.value, q.unit) for q in quantities] == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The company raised £3m from investors.", [(3_000_000, "GBP")]),
        ("The tickets cost A$50 and HK$300.", [(50, "AUD"), (300, "HKD")]),
        ("He paid 1.5 million Swiss francs for it.", [(1_500_000, "CHF")]),
        ("The deal is worth €2.5 billion ($2.7 billion).", [(2.5e9, "EUR"), (2.7e9, "USD")]),
        ("The club lost 5 million pounds last season.", [(5_000_000, "GBP")]),
    ],
)
def test_currencies_come_from_the_cldr(extractor, sentence: str, expected) -> None:
    quantities = extractor.extract(snippet("", sentence)).quantities
    assert [(q.value, q.unit) for q in quantities] == expected


def test_a_rate_keeps_what_it_is_per(extractor) -> None:
    (people,) = extractor.extract(snippet("", "About 10,000 people a day cross the border.")).quantities
    assert (people.counted, people.per, people.bound) == ("people", "day", "approx")
    (oil,) = extractor.extract(snippet("", "The field produces 1.2 million barrels per day.")).quantities
    assert (oil.value, oil.unit, oil.per) == (1_200_000, "barrel per day", "day")


def test_a_length_of_time_before_ago_is_a_date(extractor) -> None:
    assert extractor.extract(snippet("", "The law passed a year ago, 1 year ago today.")).quantities == []


def test_a_length_of_time_between_two_events_is_a_quantity(extractor) -> None:
    (q,) = extractor.extract(snippet("", "Pepe curled in the equaliser six minutes later.")).quantities
    assert (q.value, q.unit) == (6, "minute")


@pytest.mark.parametrize(
    ("sentence", "text", "value", "counted", "bound"),
    [
        ("Two-thirds of voters backed the plan.", "Two-thirds of voters", 2 / 3, "voters", "exact"),
        ("A third of those screened were obese.", "A third of those", 1 / 3, "those", "exact"),
        ("Half of the respondents said no.", "Half of the respondents", 0.5, "respondents", "exact"),
        ("About a quarter of the staff left.", "About a quarter of the staff", 0.25, "staff", "approx"),
        ("One in five adults smoke.", "One in five adults", 0.2, "adults", "exact"),
    ],
)
def test_a_share_is_its_fraction(
    extractor, sentence: str, text: str, value: float, counted: str, bound: str
) -> None:
    (q,) = extractor.extract(snippet("", sentence)).quantities
    assert (q.text, q.counted, q.bound) == (text, counted, bound)
    assert q.value == pytest.approx(value)


@pytest.mark.parametrize(
    "sentence",
    ["Both teams struggled in the final third of the pitch.", "The board asked for a third-party review."],
)
def test_an_ordinal_is_no_share(extractor, sentence: str) -> None:
    assert extractor.extract(snippet("", sentence)).quantities == []


def test_a_count_in_so_many_games_is_no_share(extractor) -> None:
    values = [q.value for q in extractor.extract(snippet("", "He scored 3 in 10 games.")).quantities]
    assert 0.3 not in values and 10 in values


@pytest.mark.parametrize(
    ("sentence", "bound", "value", "high"),
    [
        ("More than 1,200 people died.", "lower", 1_200, None),
        ("Up to 40 percent of homes lost power.", "upper", 40, None),
        ("Between 6,000 and 10,000 people joined the march.", "range", 6_000, 10_000),
        ("The firm cut 1,500 jobs.", "exact", 1_500, None),
        ("Hundreds of migrants waited at the border.", "magnitude", 100, 1_000),
        ("Tens of thousands of people marched.", "magnitude", 10_000, 100_000),
        ("Dozens of people were killed on Friday.", "magnitude", 12, 120),
    ],
)
def test_bounds_are_structured(extractor, sentence: str, bound: str, value: float, high) -> None:
    (q,) = extractor.extract(snippet("", sentence)).quantities
    assert (q.bound, q.value, q.high) == (bound, value, high)
