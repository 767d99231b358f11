"""Tests of make_speakable: LLM output (Markdown, numbers, symbols) to speakable text."""

from __future__ import annotations

import re

import pytest

from xtalk.text.speakable import (
    digits_to_words,
    make_speakable,
    number_to_words,
    ordinal_to_words,
    year_to_words,
)


# --------------------------------------------------------------------------- number words
@pytest.mark.parametrize(("number", "words"), [
    (0, "zero"),
    (7, "seven"),
    (13, "thirteen"),
    (20, "twenty"),
    (21, "twenty-one"),
    (99, "ninety-nine"),
    (100, "one hundred"),
    (101, "one hundred one"),
    (110, "one hundred ten"),
    (999, "nine hundred ninety-nine"),
    (1000, "one thousand"),
    (1001, "one thousand one"),
    (1234, "one thousand two hundred thirty-four"),
    (10000, "ten thousand"),
    (100000, "one hundred thousand"),
    (1000000, "one million"),
    (1002003, "one million two thousand three"),
    (2500000000, "two billion five hundred million"),
    (10**12, "one trillion"),
    (-42, "minus forty-two"),
])
def test_number_to_words(number: int, words: str) -> None:
    assert number_to_words(number) == words


def test_huge_number_is_read_digit_by_digit() -> None:
    assert number_to_words(10**18) == "one " + " ".join(["zero"] * 18)


@pytest.mark.parametrize(("number", "words"), [
    (1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (5, "fifth"), (8, "eighth"),
    (9, "ninth"), (11, "eleventh"), (12, "twelfth"), (13, "thirteenth"), (20, "twentieth"),
    (21, "twenty-first"), (22, "twenty-second"), (23, "twenty-third"), (40, "fortieth"),
    (100, "one hundredth"), (101, "one hundred first"), (1000, "one thousandth"),
    (1000000, "one millionth"),
])
def test_ordinal_to_words(number: int, words: str) -> None:
    assert ordinal_to_words(number) == words


@pytest.mark.parametrize(("year", "words"), [
    (1999, "nineteen ninety-nine"),
    (1900, "nineteen hundred"),
    (1905, "nineteen oh five"),
    (2000, "two thousand"),
    (2005, "two thousand five"),
    (2010, "twenty ten"),
    (2024, "twenty twenty-four"),
    (1066, "ten sixty-six"),
    (1100, "eleven hundred"),
    (800, "eight hundred"),
])
def test_year_to_words(year: int, words: str) -> None:
    assert year_to_words(year) == words


def test_digits_to_words() -> None:
    assert digits_to_words("007") == "zero zero seven"
    assert digits_to_words("1-2") == "one two"


# --------------------------------------------------------------------------- markdown
@pytest.mark.parametrize(("text", "spoken"), [
    ("# Heading", "Heading"),
    ("### Deep heading ###", "Deep heading"),
    ("**bold** text", "bold text"),
    ("__bold__ text", "bold text"),
    ("some *italic* text", "some italic text"),
    ("some _italic_ text", "some italic text"),
    ("***both*** here", "both here"),
    ("**bold with _nested_ italic**", "bold with nested italic"),
    ("~~old~~ new", "old new"),
    ("Run `make test` now", "Run make test now"),
    ("Call ``a `tick` b``", "Call a `tick` b".replace("`", "").replace("  ", " ")),
    ("See [the docs](https://docs.example.com/x/y) here", "See the docs here"),
    ("[](https://www.example.com/a)", "example.com"),
    ("![a cat](cat.png) sleeps", "a cat sleeps"),
    ("Read [the guide][1] first", "Read the guide first"),
    ("> a quoted line", "a quoted line"),
    (">> nested quote", "nested quote"),
    ("- item", "item"),
    ("* item", "item"),
    ("+ item", "item"),
    ("1. step", "step"),
    ("2) step", "step"),
    ("- [x] done", "done"),
    ("<b>bold</b> and <i>it</i>", "bold and it"),
    ("Tom &amp; Jerry", "Tom and Jerry"),
    ("A claim[1] and a footnote[^note].", "A claim and a footnote."),
    ("snake_case_name", "snake case name"),
    ("__init__ method", "init method"),
])
def test_markdown_inline(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


def test_code_blocks_are_dropped() -> None:
    text = "Try this:\n\n```python\nprint('hi')  # comment\nx = 1\n```\n\nThat prints hi."
    assert make_speakable(text) == "Try this: That prints hi."
    assert make_speakable("Before ~~~\ncode\n~~~ after") == "Before after"
    assert make_speakable("Inline ```x = 1``` gone") == "Inline gone"
    assert "code" not in make_speakable("Here:\n```\nsome code")  # unclosed fence
    assert make_speakable("```bash\nls -la\n```") == ""
    assert "omitted" not in make_speakable("A\n```\nB\n```\nC")


def test_lists_and_headings_become_sentences() -> None:
    text = "## Shopping\n\n- apples\n- pears\n1. milk\n2. bread\n\nThat's all"
    assert make_speakable(text) == "Shopping. apples. pears. milk. bread. That's all."


def test_wrapped_paragraph_lines_are_joined() -> None:
    assert make_speakable("This sentence is\nwrapped over lines.") == (
        "This sentence is wrapped over lines.")


def test_tables() -> None:
    text = "| Name | Age |\n|------|:---:|\n| Ann | 31 |\n| Bob | 4 |"
    assert make_speakable(text) == "Name, Age. Ann, thirty-one. Bob, four."


def test_horizontal_rule_and_reference_definitions() -> None:
    text = "Part one\n\n---\n\nPart two\n\n[1]: https://example.com/ref"
    assert make_speakable(text) == "Part one. Part two."


def test_html() -> None:
    assert make_speakable("<p>Hello<br>world</p>") == "Hello world."
    assert make_speakable("<script>alert(1)</script>Safe") == "Safe"
    assert make_speakable("a <!-- hidden --> b") == "a b"
    assert make_speakable("<div class=\"x\">text</div>") == "text."


# --------------------------------------------------------------------------- emoji
@pytest.mark.parametrize(("text", "spoken"), [
    ("Great job 🎉", "Great job"),
    ("🚀 Launch", "Launch"),
    ("Thumbs 👍🏽 up", "Thumbs up"),
    ("Love ❤️ it", "Love it"),
    ("Family 👨‍👩‍👧 time", "Family time"),
    ("Flag 🇫🇷 here", "Flag here"),
    ("Done ✅ and ⭐", "Done and"),
    ("Nice :) see you ;-)", "Nice see you"),
    ("Brand™ and ©", "Brand and"),
])
def test_emoji_removed(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


# --------------------------------------------------------------------------- URLs, e-mail
@pytest.mark.parametrize(("text", "spoken"), [
    ("https://www.example.com/path", "example.com"),
    ("See https://www.example.com/path.", "See example.com."),
    ("Go to http://docs.python.org/3/library/re.html?x=1#top, then", "Go to docs.python.org, then"),
    ("Visit www.example.org today", "Visit example.org today"),
    ("Open https://user@host.example.com:8080/a", "Open host.example.com"),
    ("Clone github.com/org/repo now", "Clone github.com now"),
    ("<https://example.com/x>", "example.com"),
    ("plain example.com stays", "plain example.com stays"),
])
def test_urls(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("a@b.com", "a at b dot com"),
    ("Mail john.smith@example.co.uk today", "Mail john dot smith at example dot co dot uk today"),
    ("Write to support@example.com.", "Write to support at example dot com."),
    ("<help@x.org>", "help at x dot org"),
])
def test_email(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


# --------------------------------------------------------------------------- abbreviations
@pytest.mark.parametrize(("text", "spoken"), [
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("fruit, e.g., apples", "fruit, for example, apples"),
    ("E.g. apples", "For example apples"),
    ("one thing, i.e. this", "one thing, that is this"),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("apples, etc. and pears", "apples, et cetera and pears"),
    ("apples etc. Then more", "apples et cetera. Then more"),
    ("Dr. Smith", "Doctor Smith"),
    ("Mr. Jones and Mrs. Brown", "Mister Jones and Missus Brown"),
    ("Ms. Lee and Prof. Xu", "Miz Lee and Professor Xu"),
    ("cats vs. dogs", "cats versus dogs"),
    ("cats vs dogs", "cats versus dogs"),
    ("VS Code", "VS Code"),
    ("approx. 5 km", "approximately five kilometers"),
    ("No. 7", "Number seven"),
    ("with w/o sugar", "with without sugar"),
])
def test_abbreviations(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(("text", "spoken"), [
    ("1,234", "one thousand two hundred thirty-four"),
    ("It has 1,234 items", "It has one thousand two hundred thirty-four items"),
    ("1,000,000 users", "one million users"),
    ("42", "forty-two"),
    ("3.5", "three point five"),
    ("0.25", "zero point two five"),
    ("1,234.56", "one thousand two hundred thirty-four point five six"),
    (".5 seconds", "point five seconds"),
    ("It is 3.14.", "It is three point one four."),
    ("-5", "minus five"),
    ("007", "zero zero seven"),
    ("1, 2, 3", "one, two, three"),
    ("1,2,3", "one,two,three"),
    ("12345678901234567890", " ".join(digits_to_words("12345678901234567890").split())),
])
def test_cardinals_and_decimals(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("50%", "fifty percent"),
    ("50% off", "fifty percent off"),
    ("0.5%", "zero point five percent"),
    ("-3 %", "minus three percent"),
    ("10-15%", "ten to fifteen percent"),
])
def test_percentages(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$5.99", "five dollars ninety-nine"),
    ("$5.00", "five dollars"),
    ("$5.5", "five dollars fifty"),
    ("$5.01", "five dollars and one cent"),
    ("$0.99", "ninety-nine cents"),
    ("$0.01", "one cent"),
    ("$1,234.56", "one thousand two hundred thirty-four dollars fifty-six"),
    ("€10", "ten euros"),
    ("€1", "one euro"),
    ("10€", "ten euros"),
    ("10 EUR", "ten euros"),
    ("£3.50", "three pounds fifty"),
    ("¥500", "five hundred yen"),
    ("$2.5 million", "two point five million dollars"),
    ("$5k", "five thousand dollars"),
    ("$3B", "three billion dollars"),
    ("-$5", "minus five dollars"),
    ("$5-$10", "five dollars to ten dollars"),
    ("It costs $5.99 and is 50% off",
     "It costs five dollars ninety-nine and is fifty percent off"),
])
def test_currency(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("1st", "first"),
    ("2nd", "second"),
    ("3rd", "third"),
    ("4th", "fourth"),
    ("11th", "eleventh"),
    ("21st", "twenty-first"),
    ("22nd place", "twenty-second place"),
    ("100th", "one hundredth"),
    ("1,000th", "one thousandth"),
])
def test_ordinals(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("in 1999", "in nineteen ninety-nine"),
    ("In 1999 the web grew", "In nineteen ninety-nine the web grew"),
    ("since 2010.", "since twenty ten."),
    ("by 2030, we", "by twenty thirty, we"),
    ("in 2005", "in two thousand five"),
    ("in 2024 we", "in twenty twenty-four we"),
    ("the summer of 1969", "the summer of nineteen sixty-nine"),
    ("from 1999-2001", "from nineteen ninety-nine to two thousand one"),
    ("the 1990s", "the nineteen nineties"),
    ("the '80s", "the eighties"),
    ("mid-1980s", "mid nineteen eighties"),
    ("44 BC", "forty-four BC"),
    ("a total of 1500 people", "a total of one thousand five hundred people"),
    ("in 2000 years", "in two thousand years"),
    ("1999", "one thousand nine hundred ninety-nine"),
])
def test_years(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("2024-01-15", "January fifteenth, twenty twenty-four"),
    ("March 5, 1999", "March fifth, nineteen ninety-nine"),
    ("on March 5", "on March fifth"),
    ("Jan. 5th", "January fifth"),
    ("5 March 2020", "the fifth of March, twenty twenty"),
    ("the 3rd of May", "the third of May"),
    ("March 2020", "March twenty twenty"),
])
def test_dates(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("10:30", "ten thirty"),
    ("at 10:30.", "at ten thirty."),
    ("10:05", "ten oh five"),
    ("10:00", "ten o'clock"),
    ("14:45", "fourteen forty-five"),
    ("14:00", "fourteen hundred"),
    ("10am", "ten a.m."),
    ("7 PM", "seven p.m."),
    ("3:30 p.m. today", "three thirty p.m. today"),
    ("3-4pm", "three to four p.m."),
])
def test_times(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("20°C", "twenty degrees Celsius"),
    ("20 °C", "twenty degrees Celsius"),
    ("-5°C", "minus five degrees Celsius"),
    ("68°F", "sixty-eight degrees Fahrenheit"),
    ("1°C", "one degree Celsius"),
    ("36.6°C", "thirty-six point six degrees Celsius"),
    ("20℃", "twenty degrees Celsius"),
    ("a 90° angle", "a ninety degrees angle"),
])
def test_temperatures(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    # Piper spelled these out letter by letter ("F T"); a listener heard "1,083 FD"
    ("It is 330 m tall, about 1,083 ft.",
     "It is three hundred thirty meters tall, about one thousand eighty-three feet."),
    ("1 ft", "one foot"),
    ("1.5 m", "one point five meters"),
    ("10 kg", "ten kilograms"),
    ("1 lb", "one pound"),
    ("5 mi away", "five miles away"),
    ("3 GB of RAM", "three gigabytes of RAM"),
    ("2.5 GHz", "two point five gigahertz"),
    ("100 ms", "one hundred milliseconds"),
    ("20 MB/s", "twenty megabytes per second"),
    ("10 m/s", "ten meters per second"),
    ("60 km/h", "sixty kilometers per hour"),
    ("65 mph", "sixty-five miles per hour"),
    ("about 5 min", "about five minutes"),
    ("3 hrs", "three hours"),
    ("in 2 h", "in two hours"),
    ("a 100W bulb", "a one hundred watts bulb"),
    ("5000 mAh", "five thousand milliamp hours"),
    # not units: no space before a one-letter symbol, a word, an ambiguous symbol
    ("5m users", "five m users"),
    ("the 1990s", "the nineteen nineties"),
    ("1 in 5 people", "one in five people"),
    ("5 minutes", "five minutes"),
    ("$5 m", "five million dollars"),
])
def test_units(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("1/2", "one half"),
    ("3/4 cup", "three quarters cup"),
    ("2/3", "two thirds"),
    ("1/10", "one tenth"),
    ("24/7", "twenty-four seven"),
    ("pages 10-20", "pages ten to twenty"),
    ("2–3 days", "two to three days"),
    ("call 555-123-4567", "call five five five, one two three, four five six seven"),
    ("(555) 123-4567", "five five five, one two three, four five six seven"),
    ("192.168.0.1", "one hundred ninety-two dot one hundred sixty-eight dot zero dot one"),
    ("Python version 3.11", "Python version three point eleven"),
    ("v2.0", "version two point zero"),
    ("2x faster", "two times faster"),
    ("1.5x", "one point five times"),
    ("1920x1080", "one thousand nine hundred twenty by one thousand eighty"),
    ("100km", "one hundred kilometers"),
    ("5G network", "five G network"),
    ("COVID-19", "COVID nineteen"),
    ("#1 fan", "number one fan"),
    ("60 km/h", "sixty kilometers per hour"),
])
def test_other_numbers(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


# --------------------------------------------------------------------------- symbols
@pytest.mark.parametrize(("text", "spoken"), [
    ("Tom & Jerry", "Tom and Jerry"),
    ("R&D", "R and D"),
    ("2+2=4", "two plus two equals four"),
    ("2 + 2 = 4", "two plus two equals four"),
    ("5 - 3", "five minus three"),
    ("5 * 3", "five times three"),
    ("6 × 7", "six times seven"),
    ("x >= 3", "x greater than or equal to three"),
    ("x <= 3", "x less than or equal to three"),
    ("a != b", "a is not equal to b"),
    ("a < b and c > d", "a less than b and c greater than d"),
    ("a -> b", "a to b"),
    ("A → B", "A to B"),
    ("~20 people", "about twenty people"),
    ("C++ and C#", "C plus plus and C sharp"),
    ("#python rocks", "python rocks"),
    ("ping @alice", "ping at alice"),
    ("and/or", "and or"),
    ("one | two", "one, two"),
    ("wait — what", "wait, what"),
    ("wait - what", "wait, what"),
    ("price ± 2", "price plus or minus two"),
    ("§ 3", "section three"),
])
def test_symbols(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


# --------------------------------------------------------------------------- robustness
@pytest.mark.parametrize("text", [
    "", " ", "\n\n", "**", "***", "#", "##", "---", "```", "```\ncode\n```", "🎉", "...", "|",
    "- ", "* * *", "> ", "[]()", ":)", "`", "~~", "_",
])
def test_nothing_speakable(text: str) -> None:
    assert make_speakable(text) == ""


MESSY = [
    "# Title\n\n**Bold** and *italic* with `code` and a [link](http://x.io/a).\n\n"
    "- one\n- **two**\n  * nested *item*\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote #tag",
    "* Unclosed *emphasis and stray ** stars # pounds ### here",
    "Use __dunder__ and *args, **kwargs in Python",
    "C# ## # * ** *** **** #1 #a",
    "2 * 3 * 4 = 24 and a*b",
    "Let's check: **$5.99** vs *€10* — 50% off!!! 🎉🎉",
    "1. **Step one**: run `pip install -U xtalk`\n2. *Step two*: profit ✨",
]


@pytest.mark.parametrize("text", MESSY)
def test_never_speaks_markup_symbols(text: str) -> None:
    spoken = make_speakable(text)
    assert spoken
    for char in "*#`_|~[]{}<>\\^":
        assert char not in spoken, (char, spoken)
    assert "asterisk" not in spoken.lower() and "hash" not in spoken.lower()
    assert "  " not in spoken
    assert not re.search(r"\s[,.;:!?]", spoken), spoken


def test_plain_text_is_unchanged() -> None:
    for text in ["Hello there, how are you today?", "It's a nice day. Isn't it!",
                 "Well... maybe; I think so: yes.", "state-of-the-art (really)"]:
        assert make_speakable(text) == text


def test_full_reply() -> None:
    reply = (
        "## Your trip\n\n"
        "Here's the plan for **March 5, 2024**:\n\n"
        "1. Leave at 10:30 — it's about 20°C.\n"
        "2. Lunch costs ~$15.50 (approx. 20% less than usual).\n"
        "3. See https://www.example.com/trips/123 for details, e.g. maps & tickets.\n\n"
        "Enjoy! 😊"
    )
    assert make_speakable(reply) == (
        "Your trip. Here's the plan for March fifth, twenty twenty-four: "
        "Leave at ten thirty, it's about twenty degrees Celsius. "
        "Lunch costs about fifteen dollars fifty (approximately twenty percent less than "
        "usual). See example.com for details, for example maps and tickets. Enjoy!"
    )
