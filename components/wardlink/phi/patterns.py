"""The regular expressions of the text scrubber, and where each one is tried.

Speed comes from *not* scanning every regex over every character. Python's regex
engine tries every alternative of a pattern at every position; with thirty
identifier shapes that costs ~300 us per message. Instead each shape is tried only
where it can start:

* digit shapes (dates, phones, SSNs, IPv4, street addresses, long numbers,
  "93-year-old") at the start of each digit run, and only those that can begin
  with a run of that length followed by that kind of character
  (``digit_matcher``);
* word shapes (labels such as "MRN", "Acct", "serial"; month names; "age";
  "lives in"; "P.O. Box") at the words that can begin them (``TRIGGERS``) - the
  scrubber finds those words with a set lookup in its token pass;
* the rest (e-mail, URL, IPv6/MAC, VIN, "City, ST") only when a cheap substring
  test says the message can contain one.

Boundaries are look-arounds on digits and letters rather than ``\\b``, because
``\\b`` treats ``_`` as a word character and would miss the date in
``ECG_Doe_Jane_19620704.pdf``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from wardlink.phi.vocabulary import words as _words


class Category(StrEnum):
    """Kinds of PHI the scrubber reports, each with its own placeholder."""

    NAME = "NAME"
    ADDRESS = "ADDRESS"
    CITY = "CITY"
    ZIP = "ZIP"
    DATE = "DATE"
    AGE = "AGE"
    PHONE = "PHONE"
    FAX = "FAX"
    EMAIL = "EMAIL"
    SSN = "SSN"
    MRN = "MRN"
    HEALTH_PLAN = "HEALTH_PLAN"
    ACCOUNT = "ACCOUNT"
    LICENSE = "LICENSE"
    VEHICLE = "VEHICLE"
    DEVICE_ID = "DEVICE_ID"
    URL = "URL"
    IP = "IP"
    BIOMETRIC = "BIOMETRIC"
    PHOTO = "PHOTO"
    ID = "ID"


# --- building blocks -------------------------------------------------------------

_NO_DIGIT_BEFORE = r"(?<![\d])"
_NO_DIGIT_AFTER = r"(?!\d)"
_NO_ALNUM_BEFORE = r"(?<![A-Za-z0-9])"
_NO_ALNUM_AFTER = r"(?![A-Za-z0-9])"

_MONTH = (
    r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![A-Za-z])\.?"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MON_NUM = r"(?:0?[1-9]|1[0-2])"
_YEAR4 = r"(?:1[89]\d\d|20\d\d)"
_YEAR = r"(?:1[89]\d\d|20\d\d|\d\d)"
_ORD = r"(?i:st|nd|rd|th)?"
_TIME = (
    r"(?:[T ,]{1,2}(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
    r"(?:\s?(?i:am|pm))?(?:Z|[+-]\d\d:?\d\d)?)?"
)

# A month name with no year after it: "may" and "mar" only when capitalised, so that
# "RR 16 may be artifact" keeps its number.
_NOYEAR_GUARD = r"(?:(?=[A-Z])|(?!(?i:may|mar)(?![a-z])))"

# Dates that start with a digit. Back-references are local to each alternative and
# renumbered when the alternatives are joined (see ``_join``).
_DATE_DIGIT = (
    # ISO and year-first: 1962-07-04, 1962/07/04, 1962.07.04 (+ time)
    rf"{_NO_DIGIT_BEFORE}{_YEAR4}([-/.]){_MON_NUM}\1{_DAY}{_NO_DIGIT_AFTER}{_TIME}",
    # US / EU numeric: 07/04/1962, 4-7-62, 04.07.1962 (+ time)
    rf"{_NO_DIGIT_BEFORE}(?<!\d\.){_DAY}([-/.]){_DAY}\1{_YEAR}{_NO_DIGIT_AFTER}(?!\.\d){_TIME}",
    # 04-Jul-1962 / 4-JUL-62 / 04JUL1962
    rf"{_NO_DIGIT_BEFORE}{_DAY}(-?){_MONTH}\1{_YEAR}{_NO_DIGIT_AFTER}{_TIME}",
    # 4 July 1962 / 4th of July, 1962
    rf"{_NO_DIGIT_BEFORE}{_DAY}{_ORD}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR4}{_NO_DIGIT_AFTER}{_TIME}",
    # 4 July / 4th of July (no year)
    rf"{_NO_DIGIT_BEFORE}{_DAY}{_ORD}(?:\s+of)?\s*-?\s*{_NOYEAR_GUARD}{_MONTH}",
    # compact 19620704, HL7 DTM 20261103142205
    rf"{_NO_DIGIT_BEFORE}{_YEAR4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"(?:T?(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d(?:\.\d+)?)?)?(?:[+-]\d{4})?(?!\d)",
    # month/day with no year: 3/17, 12/30 (+ time); the scrubber tells "7/10" pain apart
    rf"(?<![\d.,/:-]){_MON_NUM}/{_DAY}(?![\d/]|\.\d){_TIME}",
)
# Dates that start with the month name: July 4, 1962 / Jul 4th 1962 / July 1962 / July 4
_DATE_MONTH = (
    rf"{_NO_ALNUM_BEFORE}{_MONTH}\s*(?:{_DAY}{_ORD},?\s*{_YEAR4}|,?\s*{_YEAR4}){_NO_DIGIT_AFTER}{_TIME}",
    rf"{_NO_ALNUM_BEFORE}{_NOYEAR_GUARD}{_MONTH}\s*{_DAY}{_ORD}(?![\d:]){_TIME}",
)

_EXT = r"(?:[ \t]*(?:x|ext\.?|extension|#)[ \t]*\d{1,6})?"
_PHONE = (
    # NANP: (555) 123-4567, 555-123-4567, 555.123.4567, +1 555 123 4567, 001-555-123-4567
    rf"(?<![\d+])(?:(?:\+?1|001)[ \t.-]?)?(?:\(\d{{3}}\)[ \t]?|\d{{3}}[ \t.-])"
    rf"\d{{3}}[ \t.-]?\d{{4}}(?!\d){_EXT}",
    # international: +44 20 7946 0958, +49 (0)30 1234567, +33 1 23 45 67 89
    rf"(?<![\w+])\+\d{{1,3}}(?:[ \t.-]?\(?\d{{1,5}}\)?){{2,6}}(?!\d){_EXT}",
    # national trunk prefix: (0161) 496 0066, 030 1234567, 00669 074391, 020-7946-0958
    rf"(?<!\d)\(0\d{{2,5}}\)[ \t]?\d{{2,5}}(?:[ \t-]?\d{{2,6}})?(?!\d){_EXT}",
    rf"(?<![\d.])0\d{{1,4}}[ \t/-]\d{{3,8}}(?:[ \t-]\d{{2,5}}){{0,2}}(?!\d|\.\d){_EXT}",
    # French style: 01 23 45 67 89
    r"(?<![\d.])0\d(?:[ .]\d\d){4}(?!\d|\.\d)",
)

_STATE_ABBR = (
    r"(?:A[AEKLPRSZ]|C[AOT]|D[CE]|FL|G[AU]|HI|I[ADLN]|K[SY]|LA|M[ADEINOPST]|N[CDEHJMVY]"
    r"|O[HKR]|P[AR]|RI|S[CD]|T[NX]|UT|V[AIT]|W[AIVY])"
)
_STATE_NAMES: tuple[str, ...] = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
    "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa",
    "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan",
    "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada",
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina",
    "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island",
    "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia",
    "Washington", "West Virginia", "Wisconsin", "Wyoming",
)  # fmt: skip
_STATE_NAME = "(?:" + "|".join(_STATE_NAMES) + ")"
_ZIP = r"\d{5}(?:-\d{4})?(?!\d)"

_STREET_SUFFIX = (
    r"(?i:alley|aly|avenue|ave|av|boulevard|blvd|branch|bridge|brook|brooks|burg|burgs|bypass"
    r"|camp|canyon|cape|causeway|center|centers|circle|circles|cir|cliff|cliffs|club|common"
    r"|corner|corners|course|court|courts|ct|cove|coves|creek|crescent|crest|crossing"
    r"|crossroad|curve|dale|dam|divide|drive|drives|dr|estate|estates|expressway|expy"
    r"|extension|extensions|fall|falls|ferry|field|fields|flat|flats|ford|fords|forest|forge|forges"
    r"|fork|forks|fort|freeway|fwy|garden|gardens|gateway|glen|glens|green|greens|grove"
    r"|groves|harbor|harbors|haven|heights|hts|highway|hwy|hill|hills|hollow|inlet|island"
    r"|islands|isle|junction|junctions|key|keys|knoll|knolls|lake|lakes|land|landing|lane"
    r"|ln|light|lights|loaf|lock|locks|lodge|loop|mall|manor|manors|meadow|meadows|mews"
    r"|mill|mills|mission|motorway|mount|mountain|mountains|neck|orchard|oval|overpass"
    r"|park|parks|parkway|parkways|pkwy|pass|passage|path|pike|pine|pines|place|pl|plain"
    r"|plains|plaza|plz|point|points|port|ports|prairie|radial|ramp|ranch|rapid|rapids"
    r"|rest|ridge|ridges|river|road|roads|rd|route|rte|row|rue|run|shoal|shoals|shore"
    r"|shores|skyway|spring|springs|spur|spurs|square|squares|sq|station|stravenue|stream"
    r"|street|streets|st|summit|terrace|ter|throughway|trace|track|trafficway|trail|trl"
    r"|tunnel|turnpike|underpass|union|unions|valley|valleys|via|viaduct|view|views"
    r"|village|villages|ville|vista|walk|walks|wall|way|ways|well|wells)(?![A-Za-z])\.?"
)
_STRONG_STREET_SUFFIX = (
    r"(?i:street|avenue|road|boulevard|lane|drive|court|parkway|highway|terrace|place)"
    r"(?![A-Za-z])"
)
_UNIT = (
    r"(?:\s*,?\s*(?i:apt\.?|apartment|suite|ste\.?|unit|fl\.?|floor|room|rm\.?|#)\s*#?\s*"
    r"[A-Za-z0-9-]{1,6}(?![A-Za-z0-9]))?"
)
_STREET_WORD = r"(?:[A-Z][A-Za-z'\u2019.-]*|\d+(?i:st|nd|rd|th))"
_CITY_WORDS = r"(?:St\.[ \t]+)?[A-Z][A-Za-z'\u2019-]+(?:[ \t]+[A-Z][A-Za-z'\u2019-]+){0,3}"
_CITY_STATE_TAIL = (
    rf"(?:\s*,?\s*(?:\n\s*)?{_CITY_WORDS},?\s+(?:{_STATE_ABBR}|{_STATE_NAME})(?![A-Za-z0-9])"
    rf"(?:\s+{_ZIP})?)?"
)

_ADDRESS_DIGIT = (
    # 123 Main St, 4567 N. Jennifer Course Apt. 5, 12 5th Avenue (+ ", City, ST 12345")
    # (the street stays on its line: "Nonin 9560 Onyx\nDr Rynn" is no address)
    rf"(?<![A-Za-z\d.,/])\d{{1,6}}[A-Za-z]?[ \t]+(?:{_STREET_WORD}[ \t]+){{1,4}}?{_STREET_SUFFIX}"
    rf"{_UNIT}{_CITY_STATE_TAIL}",
    # lower case: 123 main street
    rf"(?<![A-Za-z\d.,/])\d{{1,6}}[ \t]+(?:[a-z]+[ \t]+){{1,3}}?{_STRONG_STREET_SUFFIX}{_UNIT}",
)
_AGE_DIGIT = (
    # "94-year-old", "94 y/o", "94yo", "94 yrs", "94-y-o", "94y"; "94F", "94 M", "94,F"
    # (a sex after the number: the scrubber drops "Temp 98 F", "Rm 94F", "walked 90 m")
    # ("92.5 yo", "93yF", "93/F" and "Age/Sex: 93/F" too)
    r"(?<![\d./])(?:9\d|1[0-4]\d)(?:\.\d(?=\s*(?i:y)))?"
    r"(?=\s*-?\s*(?i:years?|yrs?|y\.?\s?o\.?|y/o|y-o|yo|year-old|y)"
    r"(?![A-Za-z])|y[MF](?![A-Za-z0-9])|/[MF](?![A-Za-z0-9/])"
    r"|[ \t]?[MFmf](?![A-Za-z0-9])|[ \t]+[,;|][ \t]*[MF](?![A-Za-z0-9])"
    # "Resident, 98, female", "94 yr old woman"
    r"|[ \t]*,?[ \t]*(?i:female|male|woman|man|lady|gentleman)(?![A-Za-z]))",
    # "in his 90s", "in her late 90's": the decade of a person over 89
    r"(?:(?<=his )|(?<=her )|(?<=eir )|(?<=rly )|(?<=mid )|(?<=ate )|(?<=id-)|(?<=ly-)|(?<=te-))"
    r"90['\u2019]?s(?![A-Za-z])",
    # "M/93", "F/101": sex then age
    r"(?<=[MF]/)(?<![A-Za-z0-9][MF]/)(?:9\d|1[0-4]\d)(?![\d./])",
)
#: Ages over 89 said by context rather than a unit ("she is 94 now", "turned 101
#: today", "at 96 he"): what may follow the number.
_AGE_AFTER = (
    r"(?=[ \t]*(?:$|[.,;:!?)\n]|(?i:and|now|today|tomorrow|yesterday|this|last|next|years?|yrs?"
    r"|yo|in|on\s+\w+day|she|he|they|but|with|w/)(?![A-Za-z])))"
)
_AGE_N = r"(?!90\+)(?:9\d|1[0-4]\d)(?![\d%]|\.\d)"  # "age 90+" is generalised already
#: A spelled age over 89: "ninety", "ninety-three", "one hundred and two".
_SPELLED_AGE = (
    r"(?i:ninety(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|one[ \t]+hundred(?:[ \t]+(?:and[ \t]+)?(?:one|two|three|four|five|six|seven|eight|nine"
    r"|ten))?)(?![A-Za-z-])"
)
SPELLED_AGE_RE: re.Pattern[str] = re.compile(rf"(?<![A-Za-z]){_SPELLED_AGE}")
#: "age ~95", "aged approx. 95", "age about 95": a hedge before the number.
_ABOUT = r"(?:(?:~|(?i:approx\.?|approximately|about|around|circa|ca\.)[ \t]*)[ \t]*)?"
#: "age of the device: 95 days" is no person's age.
_NOT_A_DURATION = (
    r"(?![ \t]*(?i:days?|d|hrs?|hours?|h|min|mins|minutes|months?|mo|weeks?|wks?|s|sec"
    r"|seconds|mmhg|bpm|kg|lbs?)(?![A-Za-z]))"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d]|\.\d)(?::\d{{1,5}})?"
_SSN = r"(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])"
# 7+ digits, or digit groups joined by dashes: MRNs, accounts, card-like numbers.
_LONG_NUMBER = (
    # also a cell of a CSV row (",75912598,681-...") - not a decimal ("1234567.5")
    r"(?<![\d.])(?<!\d,)\d{7,}(?!\d|\.\d|,\d{1,2}(?!\d))",
    r"(?<![\d.])\d{3,}(?:-\d{2,}){2,}(?![\d])",
)

# A labelled value: "MRN: 0012345", "Acct # A-99812", "lic no. D1234567". The value
# must hold a digit, so "MRN pending" stays.
# Between a label and its value, up to three of ":", "#", "=", "-", "no.", "number",
# "id", "is": "MRN: ", "MR no. - ", "visit # no. ", "Patient ID: #", "account is ".
_SEP_ITEM = (
    r"(?:[:#=]|-(?=\s)|(?i:no\.?|nr\.?|num(?:ber)?\.?|id)(?![A-Za-z])"
    # "is" only before a number of three digits or more: "the chart is 12 pages" stays
    r"|(?i:is)(?=\s+[A-Za-z0-9/.-]*\d{3}))"
)
_SEP = rf"(?:\s*{_SEP_ITEM}){{0,3}}\s*"
# A value holds a digit; two groups of four digits ("3516 9294") are one value.
_VALUE = (
    r"(?:\d{4}[ \t]\d{4}(?![\w/]|[.-]\d)"
    r"|(?=[A-Za-z0-9/.-]*\d)[A-Za-z0-9][A-Za-z0-9/.-]*[A-Za-z0-9])"
)
_WEAK_SEP = rf"\s*(?:[:#=]|(?i:no\.|nr\.|num(?:ber)?\.?)){_SEP}"


def _labelled(
    labels: str,
    words: str,
    weak: str | None = None,
    weak_words: str = "",
    value: str = _VALUE,
) -> tuple[tuple[str, frozenset[str]], ...]:
    """A label regex and the lower-case words it can start with."""
    strong = (rf"(?<![A-Za-z/])(?:{labels})(?![A-Za-z]){_SEP}{value}", frozenset(words.split()))
    if weak is None:
        return (strong,)
    return strong, (
        rf"(?<![A-Za-z/]){weak}(?![A-Za-z]){_WEAK_SEP}{value}",
        frozenset(weak_words.split()),
    )


_MRN_LABELS = (
    r"(?i:mrn|mr\#|medical\s+record(?:\s+number)?|chart(?:\s+number)?|patient\s+id"
    r"|pt\.?\s+id|patient\s+(?:number|no\.?|nr\.?|\#)|hosp(?:ital)?\.?\s*(?:number|no\.?|\#)"
    r"|unit\s+(?:number|no\.?|\#)|med\.?\s*rec\.?|record\s*(?:number|no\.?|\#)|e?mpi\s*(?:no\.?|\#)"
    r"|e[hm]r\s*(?:id|number|no\.?|\#))"
    r"|(?-i:E?MPI|MRN|PID)"
)
_MRN_WORDS = "mrn mr medical chart patient pt hospital hosp unit med record mpi empi pid ehr emr"
_ACCOUNT_LABELS = (
    r"(?i:account|acct\.?|billing(?:\s+id)?|invoice|claim|encounter(?:\s+id)?"
    r"|visit\s*(?:id|number|no\.?|nr\.?|\#)|admission(?:\s+id)?|adm\.?\s*(?:no\.?|\#)"
    r"|bank\s+account|iban|routing)|(?-i:FIN|CSN|HAR|ENC)"
)
_ACCOUNT_WORDS = (
    "account acct billing invoice claim encounter visit admission adm bank iban routing"
    " fin csn har enc"
)
_ID_LABELS = r"(?i:identifier|record\s+id|case\s*(?:id|number|no\.?|\#)|accession)"
_ID_WORDS = "identifier record case accession"

_LABELLED: dict[Category, tuple[tuple[str, frozenset[str]], ...]] = {
    Category.SSN: _labelled(
        r"(?i:ssn|social\s+security(?:\s+(?:number|no))?|ss\#)", "ssn social ss"
    ),
    Category.MRN: _labelled(
        _MRN_LABELS, _MRN_WORDS, weak=r"(?i:mr|pid|pin)", weak_words="mr pid pin"
    ),
    Category.HEALTH_PLAN: _labelled(
        r"(?i:member(?:\s+id)?|subscriber(?:\s+id)?|policy|group\s+(?:number|no)|health\s+plan"
        r"(?:\s+(?:id|number|no))?|insurance(?:\s+id)?|medicare(?:\s+id)?|medicaid(?:\s+id)?"
        r"|beneficiary(?:\s+id)?|hicn|mbi|payer\s+id)",
        "member subscriber policy group health insurance medicare medicaid beneficiary hicn"
        " mbi payer",
    ),
    Category.ACCOUNT: _labelled(
        _ACCOUNT_LABELS,
        _ACCOUNT_WORDS,
        weak=r"(?i:acc|fin|csn|har|enc)",
        weak_words="acc fin csn har enc",
    ),
    Category.LICENSE: _labelled(
        r"(?i:licen[cs]e|driver'?s\s+licen[cs]e|certificate|passport|npi|dea|board\s+cert)",
        "license licence driver driver's drivers certificate passport npi dea board",
        weak=r"(?i:lic|dl|cert)",
        weak_words="lic dl cert",
    ),
    Category.VEHICLE: _labelled(
        r"(?i:vin|vehicle(?:\s+id)?|licen[cs]e\s+plate|plate|tag)",
        "vin vehicle license licence plate tag",
        value=r"(?=[A-Za-z0-9 \u2022\u00b7-]*\d)[A-Za-z0-9]{1,4}[ \u2022\u00b7-]?[A-Za-z0-9]{1,7}"
        r"(?![A-Za-z0-9])",
    ),
    Category.DEVICE_ID: _labelled(
        r"(?i:serial(?:\s+(?:number|no))?|s/n|device\s+(?:id|serial)|udi|imei|imsi"
        r"|mac(?:\s+address)?|eui(?:-64)?|asset(?:\s+tag)?|equipment\s+id|implant\s+id)",
        "serial s device udi imei imsi mac eui asset equipment implant",
        weak=r"(?i:sn|ser)",
        weak_words="sn ser",
    ),
    Category.BIOMETRIC: _labelled(
        r"(?i:finger\s?print|voice\s?print|retina(?:l)?\s+scan|iris\s+scan|palm\s?print"
        r"|biometric(?:\s+(?:id|template))?|face\s+id|gait\s+signature|dna\s+(?:id|profile))",
        "finger fingerprint voice voiceprint retina retinal iris palm palmprint biometric"
        " face gait dna",
        value=r"[A-Za-z0-9][A-Za-z0-9_/.-]*",
    ),
    Category.PHOTO: _labelled(
        r"(?i:photo(?:graph)?|image|picture|headshot|selfie|face\s+(?:photo|image|scan))",
        "photo photograph image picture headshot selfie face",
        value=r"(?=[A-Za-z0-9_/.-]*(?:\d|\.(?i:jpe?g|png|gif|bmp|tiff?|heic|dcm)))"
        r"[A-Za-z0-9][A-Za-z0-9_/.-]*",
    ),
    Category.ID: _labelled(
        _ID_LABELS,
        _ID_WORDS,
        weak=r"(?i:id)",
        weak_words="id",
    ),
}

_MONTH_WORDS = (
    "jan january feb february mar march apr april may jun june jul july aug august sep sept"
    " september oct october nov november dec december"
)

#: (category, regex, lower-case words that can begin it)
_TRIGGER_ALTERNATIVES: list[tuple[Category, str, frozenset[str]]] = [
    *(
        (category, pattern, words)
        for category, patterns in _LABELLED.items()
        for pattern, words in patterns
    ),
    (
        Category.PHONE,
        r"(?<![A-Za-z])(?i:phone|tel|telephone|cell|cellphone|mobile|pager|ph)\.?"
        r"(?:\s*(?i:no\.?|number|\#))?\s*[:#]?\s*\+?[\d(][\d\s().-]{5,}\d(?:\s*(?i:x|ext\.?)\s*\d{1,6})?",
        frozenset({"phone", "tel", "telephone", "cell", "cellphone", "mobile", "pager", "ph"}),
    ),
    (
        Category.FAX,
        r"(?<![A-Za-z])(?i:fax|facsimile)\.?(?:\s*(?i:no\.?|number|\#))?\s*[:#]?\s*\+?[\d(][\d\s().-]{5,}\d"
        r"(?:\s*(?i:x|ext\.?)\s*\d{1,6})?",
        frozenset({"fax", "facsimile"}),
    ),
    (
        Category.ZIP,
        rf"(?i:zip(?:\s*code)?|postal\s*code|postcode)\s*[:#]?\s*{_ZIP}",
        frozenset({"zip", "postal", "postcode"}),
    ),
    (
        # "aged 94", "age: 94", "age=94", "Age (yrs): 94", "at the age of 94",
        # "ages of residents on ward: 94, 96 and 101"
        Category.AGE,
        r"(?<![A-Za-z])(?i:ages?|aged)(?:[ \t]*\((?i:yrs?|years)\))?"
        r"(?:[ \t]+(?i:of)(?:[ \t]+[A-Za-z]+){0,4}?)?[ \t]*(?:[:=]|(?i:is|was))?[ \t]*"
        rf"{_ABOUT}{_AGE_N}(?:[ \t]*(?:,|(?i:and)|&|/)[ \t]*{_AGE_N})*{_NOT_A_DURATION}",
        frozenset({"age", "aged", "ages"}),
    ),
    (
        # "she is 94 now", "Patient is 97.", "he's 92 and", "pt was 101 on Monday"
        Category.AGE,
        r"(?<![A-Za-z])(?i:she|he|patient|pt|they|who)"
        # "pt in 12 is 96", "pt in bed 4 is 101"
        r"(?:[ \t]+(?i:in)[ \t]+(?:(?i:bed|rm|room|bay)[ \t]*)?[A-Za-z0-9-]{1,5})?"
        r"(?:['\u2019]s|[ \t]+(?i:is|was|turned|turns"
        r"|will[ \t]+be|just[ \t]+turned))[ \t]+(?:(?i:now|only|just|almost|nearly|already)[ \t]+)?"
        rf"(?:{_AGE_N}{_AGE_AFTER}|{_SPELLED_AGE})",
        frozenset({"she", "he", "patient", "pt", "they", "who"}),
    ),
    (
        # "turned 92 today", "turns 100 on Sunday", "at 94 she still gardens"
        Category.AGE,
        rf"(?<![A-Za-z])(?i:turned|turns|turning)[ \t]+(?:{_AGE_N}{_AGE_AFTER}|{_SPELLED_AGE})"
        rf"|(?<![A-Za-z])(?i:at)[ \t]+{_AGE_N},?[ \t]+"
        r"(?i:she|he|they)(?![A-Za-z])",
        frozenset({"turned", "turns", "turning", "at"}),
    ),
    (
        # "a woman of 94", "a gentleman of ninety-one"
        Category.AGE,
        r"(?<![A-Za-z])(?i:man|woman|lady|gentleman|gent|male|female)[ \t]+(?i:of)[ \t]+"
        rf"(?:{_AGE_N}{_NOT_A_DURATION}|{_SPELLED_AGE})",
        frozenset({"man", "woman", "lady", "gentleman", "gent", "male", "female"}),
    ),
    (
        # "ninety-three years old", "a ninety-one-year-old"; "in her nineties"
        Category.AGE,
        r"(?<![A-Za-z])(?i:ninety(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
        r"|one[ \t]+hundred(?:[ \t]+(?:and[ \t]+)?(?:one|two|three|four|five|six|seven|eight|nine"
        r"|ten))?)(?=[ \t-]*(?i:years?|yrs?|-?year-old|y/o|yo|y\.o\.?)(?![A-Za-z]))"
        # "age ninety-two", "aged ninety"
        r"|(?:(?<=(?i:age) )|(?<=(?i:aged) )|(?<=(?i:age): ))"
        r"(?i:ninety(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)(?![A-Za-z-])"
        r"|(?:(?<=his )|(?<=her )|(?<=eir )|(?<=rly )|(?<=mid )|(?<=ate )|(?<=id-)|(?<=ly-)"
        r"|(?<=te-))(?i:nineties)(?![A-Za-z])",
        frozenset({"ninety", "one", "nineties"}),
    ),
    (
        Category.CITY,
        r"(?i:lives\s+in|living\s+in|resides\s+in|resident\s+of|moved\s+to|home\s+in"
        r"|hometown:?|city:|town:|born\s+in|relocated\s+to|transferred\s+from)\s+"
        r"(?:St\.?[ \t]+)?[A-Z][A-Za-z'\u2019-]+(?:[ \t]+[A-Z][A-Za-z'\u2019-]+){0,2}",
        _words(
            """
    lives living resides resident moved home hometown city town born relocated transferred
    """
        ),
    ),
    (
        Category.ADDRESS,
        r"(?i:p\.?\s?o\.?\s*box|post\s+office\s+box)\s*\d{1,6}",
        frozenset({"p", "po", "post"}),
    ),
    (
        Category.ADDRESS,
        r"(?:USNS|USNV|USS|USCGC)\s+[A-Z][A-Za-z'-]+",
        frozenset({"usns", "usnv", "uss", "uscgc"}),
    ),
    (
        Category.ADDRESS,
        r"(?:PSC|Unit)\s+\d{3,5},?\s+Box\s+\d{3,5}",
        frozenset({"psc", "unit"}),
    ),
    (
        Category.ADDRESS,
        rf"(?:APO|FPO|DPO)\s+(?:AA|AE|AP)\s+{_ZIP}",
        frozenset({"apo", "fpo", "dpo"}),
    ),
    *((Category.DATE, pattern, frozenset(_MONTH_WORDS.split())) for pattern in _DATE_MONTH),
]


# What follows a digit run decides which shapes can start there. After a space, what
# the next word starts with: a capital ("12 Main St"), a lower-case letter ("95 years",
# "123 main street"), a digit ("555 123 4567"), something else ("1 (555)..."), or a
# unit ("72 mmHg", "97 %": nothing starts there - the commonest case in device text).
SEP, SPACE, ALPHA, OTHER = "sep", "space", "alpha", "other"
# A separator followed by a letter or digit, by kind: "1962-07-04", "120/80", "10.2".
SEP_DASH, SEP_SLASH, SEP_DOT = "sep_dash", "sep_slash", "sep_dot"
_SEPS = (SEP_DASH, SEP_SLASH, SEP_DOT)
_SEP_OF = {"-": SEP_DASH, "/": SEP_SLASH, ".": SEP_DOT}
SPACE_UPPER, SPACE_LOWER, SPACE_DIGIT, SPACE_OTHER, SPACE_UNIT = (
    "space_upper", "space_lower", "space_digit", "space_other", "space_unit",
)  # fmt: skip
_SPACED = (SPACE_UPPER, SPACE_LOWER, SPACE_DIGIT, SPACE_OTHER, SPACE_UNIT)
_DigitKey = tuple[str, int, str]  # (lead: "+" "(" or "d", digits (7 = 7+), next char class)


_ANY_NEXT = frozenset({SEP, SPACE, ALPHA, OTHER})
_WORDISH = frozenset({SEP, SPACE, ALPHA})
_ANY_SPACED = frozenset(_SPACED)
_ANY_SEP = frozenset(_SEPS)


@dataclass(frozen=True)
class _Start:
    """Where a digit shape can begin: lead character, digit-run length, what follows
    (``after``; for ``SPACE``, which kinds of next word: ``spaced``)."""

    leads: str = "d"
    low: int = 1
    high: int = 99
    after: frozenset[str] = _ANY_NEXT
    spaced: frozenset[str] = _ANY_SPACED
    seps: frozenset[str] = _ANY_SEP

    def allows(self, lead: str, digits: int, nxt: str) -> bool:
        if not (lead in self.leads and self.low <= digits <= self.high):
            return False
        if nxt in _ANY_SPACED:
            return SPACE in self.after and nxt in self.spaced
        if nxt in _ANY_SEP:
            return SEP in self.after and nxt in self.seps
        return nxt in self.after


_SEP_SPACE = frozenset({SEP, SPACE})
_WORD_NEXT = frozenset({SPACE_UPPER, SPACE_LOWER})
_DIGIT_NEXT = frozenset({SPACE_DIGIT})
_DASH = frozenset({SEP_DASH})
_DOT_DASH = frozenset({SEP_DOT, SEP_DASH})

#: (category, regex, where it can start)
_DIGIT_ALTERNATIVES: list[tuple[Category, str, _Start]] = [
    (Category.SSN, _SSN, _Start(low=3, high=3, after=_SEP_SPACE, spaced=_DIGIT_NEXT, seps=_DASH)),
    (
        Category.ADDRESS,
        _ADDRESS_DIGIT[0],
        _Start(
            high=6,
            after=frozenset({SPACE, ALPHA}),
            spaced=frozenset({SPACE_UPPER, SPACE_DIGIT}),
        ),
    ),
    (
        Category.ADDRESS,
        _ADDRESS_DIGIT[1],
        _Start(high=6, after=frozenset({SPACE}), spaced=frozenset({SPACE_LOWER})),
    ),
    (
        Category.AGE,
        _AGE_DIGIT[0],
        _Start(
            low=2,
            high=3,
            after=_WORDISH,
            spaced=frozenset({*_WORD_NEXT, SPACE_OTHER}),
            seps=_ANY_SEP,
        ),
    ),
    (Category.AGE, _AGE_DIGIT[1], _Start(low=2, high=2, after=frozenset({ALPHA, OTHER}))),
    (Category.AGE, _AGE_DIGIT[2], _Start(low=2, high=3)),
    (Category.DATE, _DATE_DIGIT[0], _Start(low=4, high=4, after=frozenset({SEP}))),
    (Category.DATE, _DATE_DIGIT[1], _Start(high=2, after=frozenset({SEP}))),
    (Category.DATE, _DATE_DIGIT[2], _Start(high=2, after=frozenset({SEP, ALPHA}), seps=_DASH)),
    (
        Category.DATE,
        _DATE_DIGIT[3],
        _Start(high=2, after=frozenset({SPACE, ALPHA}), spaced=_WORD_NEXT),
    ),
    (
        Category.DATE,
        _DATE_DIGIT[4],
        _Start(high=2, after=_WORDISH, spaced=frozenset({*_WORD_NEXT, SPACE_OTHER}), seps=_DASH),
    ),
    (Category.DATE, _DATE_DIGIT[5], _Start(low=7)),
    (
        Category.DATE,
        _DATE_DIGIT[6],
        _Start(high=2, after=frozenset({SEP}), seps=frozenset({SEP_SLASH})),
    ),
    (Category.IP, _IPV4, _Start(high=3, after=frozenset({SEP}), seps=frozenset({SEP_DOT}))),
    (Category.PHONE, _PHONE[0], _Start(leads="+(")),
    (
        Category.PHONE,
        _PHONE[0],
        _Start(
            low=1,
            high=1,
            after=_SEP_SPACE,
            spaced=frozenset({SPACE_DIGIT, SPACE_OTHER}),
            seps=_DOT_DASH,
        ),
    ),
    (
        Category.PHONE,
        _PHONE[0],
        _Start(
            low=3,
            high=3,
            after=_SEP_SPACE,
            spaced=frozenset({SPACE_DIGIT, SPACE_OTHER}),
            seps=_DOT_DASH,
        ),
    ),
    (Category.PHONE, _PHONE[1], _Start(leads="+")),
    (Category.PHONE, _PHONE[2], _Start(leads="(")),
    (
        Category.PHONE,
        _PHONE[3],
        _Start(
            low=2,
            high=5,
            after=_SEP_SPACE,
            spaced=_DIGIT_NEXT,
            seps=frozenset({SEP_SLASH, SEP_DASH}),
        ),
    ),
    (
        Category.PHONE,
        _PHONE[4],
        _Start(low=2, high=2, after=_SEP_SPACE, spaced=_DIGIT_NEXT, seps=frozenset({SEP_DOT})),
    ),
    (Category.ID, _LONG_NUMBER[0], _Start(low=7)),
    (Category.ID, _LONG_NUMBER[1], _Start(low=3, after=frozenset({SEP}), seps=_DASH)),
]


_BACKREF_RE = re.compile(r"\\(\d)")


def _shift_backref(base: int) -> Callable[[re.Match[str]], str]:
    def shift(match: re.Match[str]) -> str:
        return "\\" + str(int(match.group(1)) + base)

    return shift


def _join(
    alternatives: list[tuple[Category, str]],
) -> tuple[re.Pattern[str], dict[str, Category]]:
    """One regex of named alternatives; back-references renumbered to stay local."""
    parts: list[str] = []
    names: dict[str, Category] = {}
    offset = 0
    for index, (category, pattern) in enumerate(alternatives):
        inner = re.compile(pattern).groups
        base = offset + 1  # the named wrapper group itself
        shifted = _BACKREF_RE.sub(_shift_backref(base), pattern)
        name = f"g{index}"
        parts.append(f"(?P<{name}>{shifted})")
        names[name] = category
        offset += inner + 1
    return re.compile("|".join(parts)), names


Matcher = tuple[re.Pattern[str], dict[str, Category]]

#: Trigger word -> the regex of only the shapes that can begin with it.
TRIGGERS: dict[str, Matcher] = {
    word: _join([(c, p) for c, p, words in _TRIGGER_ALTERNATIVES if word in words])
    for word in {w for _, _, words in _TRIGGER_ALTERNATIVES for w in words}
}
TRIGGER_WORDS: frozenset[str] = frozenset(TRIGGERS)

#: The value written before its label: "0012345 (MRN)", "5726 6603 is the MRN", "use
#: X58W5878 as MR#". Tried only where a label's trigger word found no value after it
#: and the text just before it ends in "(", "is/was the", "as" or "=".
_LABEL_ONLY = r"(?![A-Za-z])(?:\s*(?:[#:]|(?i:no\.?|nr\.?|num(?:ber)?\.?|id)(?![A-Za-z])))*"
_LABELS_BEFORE = (
    (Category.MRN, rf"{_MRN_LABELS}|(?i:mr\.?\s*(?:no\.?|\#))", f"{_MRN_WORDS} mr"),
    (Category.ACCOUNT, rf"{_ACCOUNT_LABELS}|(?i:(?:enc|acc|fin|csn|har)\.?\s*(?:no\.?|\#))",
     f"{_ACCOUNT_WORDS} acc"),
    (Category.ID, _ID_LABELS, _ID_WORDS),
)  # fmt: skip
LABEL_BEFORE: dict[str, tuple[tuple[re.Pattern[str], Category], ...]] = {
    word: tuple(
        (re.compile(rf"(?<![A-Za-z/])(?:{labels}){_LABEL_ONLY}"), category)
        for category, labels, words in _LABELS_BEFORE
        if word in words.split()
    )
    for word in {w for _, _, words in _LABELS_BEFORE for w in words.split()}
}
VALUE_BEFORE_LABEL_RE: re.Pattern[str] = re.compile(
    # (three digits in a row at least: "Bed 12 (MRN pending)" keeps its bed)
    rf"(?<![\w.:/-])(?=[A-Za-z0-9/.-]*\d{{3}})({_VALUE})[ \t]*"
    r"(?:\(|=|(?i:is|was|as)(?:[ \t]+(?i:the|his|her|their|its))?[ \t]+)[ \t]*\Z"
)

#: (lead, digit-run length (7 = 7+), next class) -> the regex of the shapes that can
#: start there, or None; the scrubber looks keys up itself (this is its hottest loop).
DIGIT_MATCHERS: dict[_DigitKey, Matcher | None] = {}
_DIGIT_MATCHERS = DIGIT_MATCHERS


def digit_matcher(lead: str, digits: int, nxt: str) -> Matcher | None:
    """The regex of the shapes that can start at this kind of digit run."""
    return _DIGIT_MATCHERS.get((lead, min(digits, 7), nxt))


def _build_digit_matchers() -> None:
    """Compile every (lead, run length, next class) combination once, at import."""
    compiled: dict[tuple[int, ...], Matcher] = {}
    for lead in ("d", "+", "("):
        for digits in range(1, 8):
            for nxt in (ALPHA, OTHER, *_SEPS, *_SPACED):
                key = (lead, digits, nxt)
                chosen = tuple(
                    i for i, (_, _, start) in enumerate(_DIGIT_ALTERNATIVES) if start.allows(*key)
                )
                if chosen and chosen not in compiled:
                    compiled[chosen] = _join([_DIGIT_ALTERNATIVES[i][:2] for i in chosen])
                _DIGIT_MATCHERS[key] = compiled[chosen] if chosen else None


_build_digit_matchers()


def next_class(text: str, position: int) -> str:
    """The class of what follows a digit run ending at ``position`` (see above)."""
    if position >= len(text):
        return OTHER
    char = text[position]
    if char in "-/.":
        # "94. Next", "7/ ": a separator with nothing after it joins no shape
        after = text[position + 1 : position + 2]
        return _SEP_OF[char] if after.isalnum() else OTHER
    if char.isalpha():
        return ALPHA
    if char not in " \t":
        return OTHER
    position += 1
    while position < len(text) and text[position] in " \t":
        position += 1
    if position >= len(text):
        return SPACE_OTHER
    char = text[position]
    if char.isdigit():
        return SPACE_DIGIT
    if char in "%/":
        return SPACE_UNIT
    if char.isupper():
        return SPACE_UNIT if text[position : position + 4].lower() in _UNIT_HEADS else SPACE_UPPER
    if char.islower():
        unit = _UNIT_WORD_RE.match(text, position)
        return SPACE_UNIT if unit is not None else SPACE_LOWER
    return SPACE_OTHER


#: Units a number is written before ("72 bpm", "120 mmHg", "37.2 Cel", "5 mg/dL").
_UNIT_WORDS = (
    r"(?i:mmhg|bpm|mg|mcg|ml|mmol|meq|kpa|cmh2o|kg|lb|lbs|cm|mm|min|mins|sec|secs|ms|s|h"
    r"|hr|hrs|l|g|iu|units?|degc|degf|lpm|rpm|breaths|beats)(?![A-Za-z])"
)
_UNIT_WORD_RE = re.compile(_UNIT_WORDS)
#: Units in capitals, by their first four characters (``_NO_SHAPE_RUN`` spells the same).
_UNIT_HEADS = frozenset({"cel", "cel,", "cel.", "cel;", "mmhg", "bpm", "bpm,", "bpm."})


#: Digit runs of up to four digits at which no shape starts, told apart inside the
#: regex engine so that the scrubber's loop never sees them (about two in five runs
#: of device text): a run glued to a letter ("SpO2", "MX450" - unless a separator
#: follows: "B12/3"), the decimals of a number ("37.2"), the number of a letter code
#: ("ALM-0107"), and a value before its unit ("72 mmHg", "97 %"; spaces only, since
#: a tab may end a table cell that holds an age). Each case is one the scrubber's
#: loop would skip or find no shape at (``next_class`` says ``SPACE_UNIT``).
_NO_SHAPE_RUN = (
    r"(?<![+(])(?<=[^\W\d_])\d{1,4}(?![\d/.-])"
    r"|(?<=\d\.)\d{1,3}(?!\d)"
    r"|(?<=[^\W\d_]-)\d{1,4}(?![\d/.'\u2019s-])"  # but "mid-90s"
    r"|(?<![+(])\d{1,4}(?!\d) +(?:[%/]|(?=[A-Z])(?i:cel[,.;]|mmhg|bpm[,.]|(?:cel|bpm)\Z)"
    rf"|(?=[a-z]){_UNIT_WORDS})"
)
#: Where a digit shape may start: a digit run, possibly after "+" or "(" - but not
#: the runs of ``_NO_SHAPE_RUN``.
DIGIT_START_RE: re.Pattern[str] = re.compile(rf"(?=[+(\d])([+(]?)(?<!\d)(?!{_NO_SHAPE_RUN})(\d+)")

EMAIL_RE: re.Pattern[str] = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
URL_RE: re.Pattern[str] = re.compile(r"(?i:(?:https?|ftp|file)://|www\.)[^\s<>\"'|^\\]+")
#: A top-level domain; the scrubber widens a hit back to the host and on to the path.
TLD_RE: re.Pattern[str] = re.compile(
    r"\.(?i:com|org|net|edu|gov|mil|io|info|biz|us|uk|de|fr|es|it|nl|ca|au|in|br|mx|co"
    r"|health|hospital|care)(?![\w-])"
)
HOST_BEFORE_RE: re.Pattern[str] = re.compile(r"(?<![@\w.-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\Z")
PATH_AFTER_RE: re.Pattern[str] = re.compile(r"(?::\d{1,5})?/[^\s<>\"'|^\\]*")
IPV6_RE: re.Pattern[str] = re.compile(
    r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])"
    r"|(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,5})?(?![0-9A-Fa-f:])"
    r"|(?<![0-9A-Fa-f:])::(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])"
)
MAC_RE: re.Pattern[str] = re.compile(
    r"(?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"
    r"(?:\1[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2})?(?![0-9A-Fa-f:-])"
)
#: 17 characters of the VIN alphabet (no I, O, Q); checked for a digit and a letter after.
VIN_RE: re.Pattern[str] = re.compile(r"[A-HJ-NPR-Z0-9]{17}")

#: Two-letter state codes and the last word of state names, which end "City, ST".
STATE_ABBRS: frozenset[str] = frozenset(re.findall(r"[A-Z]{2}", "AA AE AK AL AP AR AS AZ "
    "CA CO CT DC DE FL GA GU HI IA ID IL IN KS KY LA MA MD ME MI MN MO MP MS MT NC ND NE "
    "NH NJ NM NV NY OH OK OR PA PR RI SC SD TN TX UT VA VI VT WA WI WV WY"))  # fmt: skip
STATE_LAST_WORDS: frozenset[str] = frozenset(name.split()[-1].lower() for name in _STATE_NAMES)
#: "Lake Mary, FL" ending where the state ends (searched in a window before it).
CITY_STATE_RE: re.Pattern[str] = re.compile(
    rf"(?<![A-Za-z0-9_]){_CITY_WORDS},?[ \t]+(?:{_STATE_ABBR}|{_STATE_NAME})\Z"
)
ZIP_AFTER_RE: re.Pattern[str] = re.compile(rf"[ \t]+{_ZIP}")
#: "Cook County": the words before County/Parish/Borough.
COUNTY_WORDS: frozenset[str] = frozenset({"county", "parish", "borough"})
PLACE_BEFORE_RE: re.Pattern[str] = re.compile(r"[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?[ \t]+\Z")

#: IEEE 11073-10101 reference ids: vocabulary, never a name.
MDC_REF_RE: re.Pattern[str] = re.compile(r"MDC_[A-Z0-9_]+")

#: Letters-only words, with inner apostrophes ("O'Brien"); digits and "_" split words.
WORD_RE: re.Pattern[str] = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")

#: Splits camel-cased words: "DoeJane" -> "Doe", "Jane"; "ECGDoe" -> "ECG", "Doe".
CAMEL_RE: re.Pattern[str] = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z'\u2019]+|[A-Z]+")

#: Words just before a number that mark it as a clinical code, not an identifier.
_CODE_WORDS = _words(
    "mdc code error err fault alarm alm inop event loinc snomed icd cpt model fw firmware"
    " version ver rev lot ref catalog cat part p/n pn"
)
#: The same, tight against the number ("error 1000234", "ref#1234567", "MDC (8454247",
#: "lot no. 22B4471", "cat. no. 2379505", "part number: 882-5377-56"), never across a
#: clause: "called about the alarm. 7084002062" is a phone. Written
#: backwards and matched on the reversed text before the number: one anchored match
#: instead of a search that tries every position of the window.
_CODE_BEFORE_REVERSED_RE = re.compile(
    r"(?:\(?[ \t]?[:#=(]?[ \t]?(?:\.?(?i:on|rn|mun|rebmun)[ \t]?)?\.?|-)(?i:"
    + "|".join(re.escape(word[::-1]) for word in sorted(_CODE_WORDS, key=len, reverse=True))
    + ")"
)


def code_context_before(text: str, end: int) -> bool:
    """Whether a code word ends just before ``end`` ("error 1000234", "MDC (8454247")."""
    return _CODE_BEFORE_REVERSED_RE.match(text[max(0, end - 24) : end][::-1]) is not None


#: A month/day date with no year ("3/17"). It is a date - recall first - unless the
#: words around it make it a score or a fraction ("pain 7/10", "1/2 tab", "5/5
#: strength"); a date word before it ("on 3/4") settles it as a date anyway.
PARTIAL_MONTH_DAY_RE: re.Pattern[str] = re.compile(r"(\d{1,2})/(\d{1,2})(?!\d)")
FRACTION_BEFORE_WORDS: frozenset[str] = frozenset(
    [
        "pain",
        "score",
        "scale",
        "scored",
        "rated",
        "rating",
        "strength",
        "gcs",
        "grade",
        "graded",
        "murmur",
        "motor",
        "power",
        "reflex",
        "reflexes",
        "ratio",
        "dose",
        "about",
        "approx",
        "approximately",
        "x",
    ]
)
FRACTION_AFTER_RE: re.Pattern[str] = re.compile(
    r"\s*(?i:tabs?|tablets?|caps?|capsules?|pills?|of|dose|doses|strength|units?|scale"
    r"|score|pain|bilaterally|bilat|full|strength)(?![A-Za-z])"
)
#: Words just before a number that say a date follows ("on 3/4", "since 7/10").
DATE_CUE_WORDS: frozenset[str] = frozenset(
    [
        "on",
        "since",
        "from",
        "until",
        "till",
        "to",
        "date",
        "dated",
        "seen",
        "admitted",
        "discharged",
        "born",
        "dob",
        "due",
        "by",
        "before",
        "after",
        "last",
        "next",
        "visit",
        "appt",
        "appointment",
        "scheduled",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)
#: A five-digit ZIP (with its +4), standing alone.
ZIP_VALUE_RE: re.Pattern[str] = re.compile(r"(?<!\d)\d{5}(?:-\d{4})?(?!\d)")
#: A ZIP right after a city or an address: ", 91016", " 91016-1234".
ZIP_NEXT_RE: re.Pattern[str] = re.compile(r"[ \t]*,?[ \t]*(\d{5}(?:-\d{4})?)(?![\d-])")
#: The town after a street address: ", Monrovia", ", St. Paul" (up to three words).
CITY_AFTER_RE: re.Pattern[str] = re.compile(
    r"[ \t]*,[ \t]*((?:St\.[ \t]+)?[A-Z][A-Za-z'\u2019-]+(?:[ \t]+[A-Z][A-Za-z'\u2019-]+){0,2})"
    r"(?![A-Za-z0-9])"
)

#: The year inside a matched date, for the 'year' date policy.
YEAR_RE: re.Pattern[str] = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
