"""Numbers in text spoken: money, percentages, units, dates, times, years, ranges,
fractions, versions, phone numbers."""

from __future__ import annotations

import re

from xtalk.text.speakable.number_words import (
    _ONES,
    _cardinal_text,
    _int,
    _plural,
    digits_to_words,
    number_to_words,
    ordinal_to_words,
    year_to_words,
)

_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH_LOOKUP = {m.lower(): m for m in _MONTHS}
_MONTH_LOOKUP.update({m[:3].lower(): m for m in _MONTHS})
_MONTH_LOOKUP["sept"] = "September"
_MONTH_RE = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)


_NUM = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "usd": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "eur": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "gbp": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "jpy": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "inr": ("rupee", "rupees", "paisa", "paise"),
}
_SCALE_WORDS = {
    "k": "thousand", "thousand": "thousand", "m": "million", "mm": "million",
    "million": "million", "b": "billion", "bn": "billion", "billion": "billion",
    "t": "trillion", "tn": "trillion", "trillion": "trillion",
}
_SCALE_RE = r"(?:\s?(?P<scale>[kKmMbBtT]n?|mm|thousand|million|billion|trillion)(?![\w]))?"
_PREFIX_MONEY_RE = re.compile(
    r"(?<![\w])(?P<sign>[-−])?(?P<cur>[$€£¥₹]|USD|EUR|GBP)\s?(?P<int>" + _NUM + r")"
    r"(?:\.(?P<frac>\d+))?" + _SCALE_RE
)
_SUFFIX_MONEY_RE = re.compile(
    r"(?<![\w.,])(?P<sign>[-−])?(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?" + _SCALE_RE
    + r"\s?(?P<cur>[€£¥₹]|USD|EUR|GBP|JPY|INR)(?![\w])"
)


def _money(match: re.Match[str]) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[match.group("cur").lower()]
    int_text, frac = match.group("int"), match.group("frac")
    sign = "minus " if match.group("sign") else ""
    scale = match.group("scale")
    if scale:
        amount = _cardinal_text(int_text, frac)
        return f"{sign}{amount} {_SCALE_WORDS[scale.lower()]} {many}"
    whole = _int(int_text)
    if frac is not None and (len(frac) > 2 or not sub_many):
        return f"{sign}{_cardinal_text(int_text, frac)} {many}"
    cents = int(frac.ljust(2, "0")) if frac else 0
    main = f"{number_to_words(whole)} {one if whole == 1 else many}"
    if not cents:
        return sign + main
    sub = number_to_words(cents)
    if whole == 0:
        return f"{sign}{sub} {sub_one if cents == 1 else sub_many}"
    if cents < 10:
        return f"{sign}{main} and {sub} {sub_one if cents == 1 else sub_many}"
    return f"{sign}{main} {sub}"


def _signed(match: re.Match[str]) -> str:
    return "minus " if match.group("sign") else ""


_PERCENT_RE = re.compile(
    r"(?<![\w.,])(?P<sign>[-−])?(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?\s?(?:%|percent\b)"
)
_TEMPERATURE_RE = re.compile(
    r"(?<![\w.,])(?P<sign>[-−])?(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?"
    r"\s?(?:°(?:\s?(?P<unit>[CFK])(?![a-zA-Z]))?|(?P<unit2>℃|℉))"
)
# Units of measure written after a number ("330 m", "1,083 ft", "3 GB", "20 MB/s"): read
# as words, singular for exactly one. Case-sensitive; symbols too ambiguous to expand
# ("in", "A", "M") are left alone.
_UNITS: dict[str, tuple[str, str]] = {
    "mm": ("millimeter", "millimeters"), "cm": ("centimeter", "centimeters"),
    "m": ("meter", "meters"), "km": ("kilometer", "kilometers"),
    "ft": ("foot", "feet"), "yd": ("yard", "yards"), "mi": ("mile", "miles"),
    "mg": ("milligram", "milligrams"), "g": ("gram", "grams"),
    "kg": ("kilogram", "kilograms"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"), "L": ("liter", "liters"),
    "ms": ("millisecond", "milliseconds"), "s": ("second", "seconds"),
    "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
    "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "mph": ("mile per hour", "miles per hour"), "kph": ("kilometer per hour",
                                                       "kilometers per hour"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"), "GHz": ("gigahertz", "gigahertz"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"), "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"), "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
}
_PER_UNITS = {"s": "second", "h": "hour", "hr": "hour", "min": "minute"}
# "5m users", "the 80s", "5s": without a space these letters are not units.
_SPACED_UNITS = ("m", "s", "g", "h")
_UNIT_RE = re.compile(
    r"(?<![\w.,])(?P<num>(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?)"
    r"(?:\s?(?P<unit>" + "|".join(sorted(
        (re.escape(u) for u in _UNITS if u not in _SPACED_UNITS), key=len, reverse=True))
    + r")|\s(?P<spaced>" + "|".join(_SPACED_UNITS) + r"))"
    r"(?:/(?P<per>" + "|".join(sorted(_PER_UNITS, key=len, reverse=True)) + r"))?"
    r"(?![\w/])"
)


def _unit(match: re.Match[str]) -> str:
    one, many = _UNITS[match.group("unit") or match.group("spaced")]
    is_one = match.group("int") == "1" and not match.group("frac")
    words = f"{match.group('num')} {one if is_one else many}"
    if match.group("per"):
        words += f" per {_PER_UNITS[match.group('per')]}"
    return words


_TIME_RE = re.compile(
    r"(?<![\w.:])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?!:?\d)"
    r"(?:\s?(?P<ampm>[aApP])\.?\s?[mM]\.?(?![a-zA-Z]))?"
)
_HOUR_AMPM_RE = re.compile(
    r"(?<![\w.:])(?P<h>1[0-2]|0?[1-9])\s?(?P<ampm>[aApP])\.?\s?[mM]\.?(?!\w)"
)
_ORDINAL_RE = re.compile(r"(?<![\w.,])(?P<int>" + _NUM + r")(?:st|nd|rd|th)\b", re.IGNORECASE)
_DECADE_RE = re.compile(r"(?<![\w.,])(?P<year>1[1-9]\d0|20\d0)'?s\b")
_SHORT_DECADE_RE = re.compile(r"(?<![\w])['’](?P<d>[2-9]0)s\b")
_ISO_DATE_RE = re.compile(
    r"(?<![\w.-])(?P<y>1[1-9]\d\d|20\d\d)-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])"
    r"(?![\w-])"
)
_MONTH_DAY_RE = re.compile(
    r"\b(?P<month>" + _MONTH_RE + r")\s+(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
    r"(?:,?\s+(?P<y>1[1-9]\d\d|20\d\d)\b)?(?![.,:]\d)"
)
_DAY_MONTH_RE = re.compile(
    r"(?<![\w.,])(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>" + _MONTH_RE
    + r")(?:,?\s+(?P<y>1[1-9]\d\d|20\d\d)\b)?(?![.,:]\d)"
)
_MONTH_YEAR_RE = re.compile(
    r"\b(?P<month>" + _MONTH_RE + r"),?\s+(?P<y>1[1-9]\d\d|20\d\d)\b(?![.,:]\d)"
)
_YEAR_CONTEXT_RE = re.compile(
    r"\b(?P<ctx>in|since|from|until|till|during|before|after|circa|by|around|year|of|early|"
    r"late|mid|between|summer|winter|spring|autumn|fall)(?P<gap>\s+|-)(?P<y>1[1-9]\d\d|20\d\d)"
    r"\b(?![.,:]\d)(?=\s*(?P<next>[A-Za-z]+)?)",
    re.IGNORECASE,
)
_YEAR_ERA_RE = re.compile(r"(?<![\w.,])(?P<y>\d{1,4})\s?(?P<era>AD|BC|BCE|CE)\b")
_YEAR_FOLLOWERS = frozenset(
    "to and or through until till when the a an i we he she they it you there this that these "
    "those was were is are had has have as with where while after before but so saw see".split()
)
_YEAR_RANGE_RE = re.compile(
    r"(?<![\w.,-])(?P<a>1[1-9]\d\d|20\d\d)\s?[-–—]\s?(?P<b>1[1-9]\d\d|20\d\d)"
    r"(?![\w.,-]|\.\d)"
)
_DIGIT_CHAIN_RE = re.compile(r"(?<![\w.-])\+?\d+(?:[-.]\d+){2,}(?![\w-]|\.\d)")
_PHONE_RE = re.compile(r"(?<![\w.-])(?:\(\d{3}\)\s?)?\d{3}-\d{4}(?![\w-])")
_RANGE_RE = re.compile(
    r"(?<![\w.,-])(?P<a>[$€£¥₹]?(?:" + _NUM + r")(?:\.\d+)?)(?:\s?[–—]\s?|-)"
    r"(?P<b>[$€£¥₹]?(?:" + _NUM + r")(?:\.\d+)?)(?![-\d]|[.,]\d)"
)
_VERSION_RE = re.compile(r"\b(?P<v>[vV](?:ersion)?)\.?\s?(?P<n>\d+(?:\.\d+)+)\b")
_FRACTION_RE = re.compile(r"(?<![\w/.,])(?P<a>\d{1,3})/(?P<b>\d{1,3})(?![\w/]|[.,]\d)")
_FRACTION_DENOMINATORS = frozenset({2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 32, 64, 100})
_TIMES_RE = re.compile(r"(?<=\d)\s?[×*]\s?(?=\d)")
_BY_RE = re.compile(r"(?<=\d)\s?x\s?(?=\d)")
_MULTIPLIER_RE = re.compile(r"(?<![\w.,])(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?x\b")
_POINT_RE = re.compile(r"(?<![\w.])\.(?P<frac>\d+)\b")
_NUMBER_RE = re.compile(
    r"(?<![\w.])(?P<sign>[-−](?=\d))?(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?"
)


def _month_name(text: str) -> str:
    return _MONTH_LOOKUP[text.rstrip(".").lower()]


def _iso_date(match: re.Match[str]) -> str:
    month = _MONTHS[int(match.group("m")) - 1]
    day = ordinal_to_words(int(match.group("d")))
    return f"{month} {day}, {year_to_words(int(match.group('y')))}"


def _month_day(match: re.Match[str]) -> str:
    spoken = f"{_month_name(match.group('month'))} {ordinal_to_words(int(match.group('d')))}"
    if match.group("y"):
        spoken += f", {year_to_words(int(match.group('y')))}"
    return spoken


def _day_month(match: re.Match[str]) -> str:
    article = "" if re.search(r"\bthe\s+$", match.string[:match.start()], re.I) else "the "
    spoken = (f"{article}{ordinal_to_words(int(match.group('d')))} of "
              f"{_month_name(match.group('month'))}")
    if match.group("y"):
        spoken += f", {year_to_words(int(match.group('y')))}"
    return spoken


def _year_context(match: re.Match[str]) -> str:
    following = match.group("next")
    if following and following[0].islower() and following.lower() not in _YEAR_FOLLOWERS:
        return match.group(0)  # "a total of 1500 people": a quantity, not a year
    return f"{match.group('ctx')}{match.group('gap')}{year_to_words(int(match.group('y')))}"


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match.group("h")), int(match.group("m"))
    ampm = match.group("ampm")
    if minute == 0:
        if ampm or 1 <= hour <= 12:
            spoken = f"{number_to_words(hour)}" + ("" if ampm else " o'clock")
        else:
            spoken = f"{number_to_words(hour)} hundred"
    elif minute < 10:
        spoken = f"{number_to_words(hour)} oh {_ONES[minute]}"
    else:
        spoken = f"{number_to_words(hour)} {number_to_words(minute)}"
    if ampm:
        spoken += f" {ampm.lower()}.m."
    return spoken


def _hour_ampm(match: re.Match[str]) -> str:
    return f"{number_to_words(int(match.group('h')))} {match.group('ampm').lower()}.m."


def _temperature(match: re.Match[str]) -> str:
    words = _signed(match) + _cardinal_text(match.group("int"), match.group("frac"))
    singular = match.group("int") == "1" and not match.group("frac")
    spoken = f"{words} {'degree' if singular else 'degrees'}"
    unit = match.group("unit") or {"℃": "C", "℉": "F"}.get(match.group("unit2") or "")
    if unit:
        spoken += " " + {"C": "Celsius", "F": "Fahrenheit", "K": "Kelvin"}[unit]
    return spoken


def _fraction(match: re.Match[str]) -> str:
    a, b = int(match.group("a")), int(match.group("b"))
    if b in _FRACTION_DENOMINATORS and 0 < a < b:
        if b == 2:
            denominator = "half" if a == 1 else "halves"
        elif b == 4:
            denominator = "quarter" if a == 1 else "quarters"
        else:
            denominator = ordinal_to_words(b)
            if a != 1:
                denominator += "s"
        return f"{number_to_words(a)} {denominator}"
    return f"{number_to_words(a)} {number_to_words(b)}"  # 24/7, 50/50


def _range(match: re.Match[str]) -> str:
    return f"{match.group('a')} to {match.group('b')}"  # the numbers are spoken later


def _digit_chain(match: re.Match[str]) -> str:
    text = match.group(0)
    groups = re.split(r"[-.]", text.lstrip("+"))
    if "." in text and "-" not in text:
        joiner = " dot " if len(groups) >= 4 else " point "
        return joiner.join(_cardinal_text(g) for g in groups)  # IP address, 1.2.3
    spoken = ", ".join(digits_to_words(g) for g in groups)
    return ("plus " if text.startswith("+") else "") + spoken


def _version(match: re.Match[str]) -> str:
    return "version " + " point ".join(_cardinal_text(g) for g in match.group("n").split("."))


def _number(match: re.Match[str]) -> str:
    spoken = _signed(match) + _cardinal_text(match.group("int"), match.group("frac"))
    following = match.string[match.end():match.end() + 1]
    return spoken + " " if following.isalpha() else spoken


def speak_numbers(text: str) -> str:
    text = re.sub(r"(?<=[A-Za-z])-(?=\d)", " ", text)  # COVID-19
    text = _ISO_DATE_RE.sub(_iso_date, text)
    text = _VERSION_RE.sub(_version, text)
    text = _PHONE_RE.sub(lambda m: ", ".join(
        digits_to_words(g) for g in re.findall(r"\d+", m.group(0))), text)
    text = _DIGIT_CHAIN_RE.sub(_digit_chain, text)
    text = _YEAR_RANGE_RE.sub(
        lambda m: f"{year_to_words(int(m.group('a')))} to {year_to_words(int(m.group('b')))}",
        text)
    text = _RANGE_RE.sub(_range, text)
    text = _PREFIX_MONEY_RE.sub(_money, text)
    text = _SUFFIX_MONEY_RE.sub(_money, text)
    text = _PERCENT_RE.sub(
        lambda m: f"{_signed(m)}{_cardinal_text(m.group('int'), m.group('frac'))} percent", text)
    text = _TEMPERATURE_RE.sub(_temperature, text)
    text = _TIME_RE.sub(_time, text)
    text = _HOUR_AMPM_RE.sub(_hour_ampm, text)
    text = _MONTH_DAY_RE.sub(_month_day, text)
    text = _DAY_MONTH_RE.sub(_day_month, text)
    text = _MONTH_YEAR_RE.sub(
        lambda m: f"{_month_name(m.group('month'))} {year_to_words(int(m.group('y')))}", text)
    text = _ORDINAL_RE.sub(lambda m: ordinal_to_words(_int(m.group("int"))), text)
    text = _DECADE_RE.sub(lambda m: _plural(year_to_words(int(m.group("year")))), text)
    text = _SHORT_DECADE_RE.sub(lambda m: _plural(number_to_words(int(m.group("d")))), text)
    text = _YEAR_ERA_RE.sub(
        lambda m: f"{year_to_words(int(m.group('y')))} {m.group('era')}", text)
    text = _YEAR_CONTEXT_RE.sub(_year_context, text)
    text = _UNIT_RE.sub(_unit, text)
    text = _FRACTION_RE.sub(_fraction, text)
    text = _TIMES_RE.sub(" times ", text)
    text = _BY_RE.sub(" by ", text)
    text = _MULTIPLIER_RE.sub(
        lambda m: f"{_cardinal_text(m.group('int'), m.group('frac'))} times", text)
    text = re.sub(r"(?<=\d)\s+[-−]\s+(?=\d)", " minus ", text)
    text = re.sub(r"#\s?(?=\d)", "number ", text)
    text = _POINT_RE.sub(lambda m: "point " + digits_to_words(m.group("frac")), text)
    return _NUMBER_RE.sub(_number, text)
