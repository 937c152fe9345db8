# ruff: noqa: E501  (the sentences are data: one per line reads best)
"""A free-text development set written by hand, to drive the scrubber's rules (issue 15).

The faker-built corpus (``wardlink.phieval.corpus``) shares its name lists with the
scrubber's lexicon, so it cannot show how the rules do on names they have never seen.
These sentences were written fresh for round two: nursing notes, discharge
summaries, device and IT tickets, chat, log lines, file names and CSV fragments, with
abbreviations and typos. Names are invented from syllables at render time (many
sound systems, any case, with and without cues); ages over 89 come in every phrasing
we could think of; identifiers are written in prose. The set is ours to tune on - it
is *not* the frozen held-out set, and no sentence here was shaped after that set.

Template markup (rendered into ``CorpusItem``s that ``wardlink phi eval --corpus``
scores):

* ``<<CAT:value>>`` - a PHI value of Safe Harbor category ``CAT``;
* ``[[KIND:value]]`` - a clinical value that must survive (``NUMBER``, ``UNIT``,
  ``MODEL``, ``CODE``);
* ``{P}`` "First Last", ``{PU}`` "FIRST LAST", ``{Pl}`` "first last", ``{PLF}``
  "Last, First", ``{PULF}`` "LAST, FIRST", ``{PI}`` "First Q. Last", ``{F}`` /
  ``{Fl}`` / ``{FU}`` a given name, ``{L}`` / ``{Ll}`` / ``{LU}`` a surname,
  ``{PFILE}`` "last_first", ``{PCAMEL}`` "LastFirst" - each a fresh invented person;
* inside values, ``%age`` is an age from 90 to 106, ``%dN`` N random digits and
  ``%AN`` N random capital letters.

Each template is rendered ``VARIANTS`` times with different names and numbers.

    python -m tests.phi.dev_cases.freetext --write tests/phi/dev_cases/freetext_dev.jsonl
    wardlink phi eval --corpus tests/phi/dev_cases/freetext_dev.jsonl --misses 40
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from wardlink.phi.safewords import load_safe_words
from wardlink.phieval.corpus import CorpusItem, Label, write_jsonl

SEED = 150215
VARIANTS = 2
JSONL = Path(__file__).with_name("freetext_dev.jsonl")

# --- invented names -----------------------------------------------------------------

# Syllable pools by rough sound system; combined freely, so the names belong to nobody.
_POOLS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    # onsets, vowels, codas
    (
        ("k", "v", "l", "br", "t", "dr", "m", "s", "h"),
        ("a", "e", "i", "o", "ay"),
        ("n", "l", "r", "ck", "x", ""),
    ),
    (
        ("ng", "th", "q", "x", "d", "h", "l", "tr", "v"),
        ("uy", "ao", "i", "a", "ue", "o"),
        ("n", "ng", "c", ""),
    ),
    (
        ("ad", "ol", "ch", "nk", "em", "ob", "tu", "ay"),
        ("e", "u", "a", "o", "i"),
        ("", "n", "m", "de", "ke"),
    ),
    (
        ("zh", "ts", "sz", "kr", "dv", "pr", "w", "j"),
        ("o", "e", "y", "a", "u"),
        ("k", "w", "sk", "v", "ch", ""),
    ),
    (
        ("r", "p", "n", "sh", "v", "k", "g"),
        ("a", "i", "ee", "u", "aa"),
        ("j", "sh", "n", "ndr", "t", ""),
    ),
    (
        ("f", "b", "gw", "ll", "rh", "c", "t"),
        ("e", "y", "i", "o", "ae"),
        ("dd", "n", "th", "l", "r"),
    ),
    (("y", "ts", "k", "m", "s", "n", "h"), ("u", "o", "a", "i", "e"), ("", "n", "")),
    (("qu", "x", "j", "z", "tl", "ch"), ("i", "a", "o", "e"), ("l", "tz", "n", "x", "")),
)
_TEMPLATE_SLOT_RE = re.compile(r"\{(P|PU|Pl|PLF|PULF|PI|F|Fl|FU|L|Ll|LU|PFILE|PCAMEL)\}")
_PHI_RE = re.compile(r"<<([A-Z_]+):(.*?)>>")
_CLIN_RE = re.compile(r"\[\[([A-Z_]+):(.*?)\]\]")
_RANDOM_RE = re.compile(r"%age|%d(\d+)|%A(\d+)")


class _Names:
    """Invented given names and surnames, never an English word of the safe list."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.safe = load_safe_words()

    def word(self) -> str:
        rng = self.rng
        while True:
            onsets, vowels, codas = rng.choice(_POOLS)
            parts = [rng.choice(onsets) + rng.choice(vowels)]
            for _ in range(rng.choice((0, 1, 1, 2))):
                parts.append(rng.choice(onsets) + rng.choice(vowels))
            word = "".join(parts) + rng.choice(codas)
            if 3 <= len(word) <= 11 and word not in self.safe:
                return word.capitalize()

    def surname(self) -> str:
        rng = self.rng
        roll = rng.random()
        base = self.word()
        if roll < 0.08:
            return f"{base}-{self.word()}"  # double-barrelled
        if roll < 0.13:
            return f"O'{base}"
        if roll < 0.17:
            return f"Mc{base}"
        if roll < 0.20:
            return f"{rng.choice(('van', 'de', 'del', 'al-', 'ben', 'da'))} {base}".replace(
                "- ", "-"
            )
        return base


def _render_name(names: _Names, slot: str) -> str:
    first, last = names.word(), names.surname()
    middle = names.rng.choice("ABCDEFGHJKLMNPRSTVW")
    return {
        "P": f"{first} {last}",
        "PU": f"{first} {last}".upper(),
        "Pl": f"{first} {last}".lower(),
        "PLF": f"{last}, {first}",
        "PULF": f"{last}, {first}".upper(),
        "PI": f"{first} {middle}. {last}",
        "F": first,
        "Fl": first.lower(),
        "FU": first.upper(),
        "L": last,
        "Ll": last.lower(),
        "LU": last.upper(),
        "PFILE": f"{last}_{first}".lower().replace(" ", "_").replace("'", ""),
        "PCAMEL": f"{last}{first}".replace(" ", "").replace("'", "").replace("-", ""),
    }[slot]


def _random_values(rng: random.Random, text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group() == "%age":
            return str(rng.randint(90, 106))
        if match.group(1):
            digits = "".join(rng.choice("0123456789") for _ in range(int(match.group(1))))
            return str(rng.randint(1, 9)) + digits[1:]
        return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(int(match.group(2))))

    return _RANDOM_RE.sub(one, text)


def render(template: str, names: _Names, item_id: str, scenario: str) -> CorpusItem:
    """One template -> one labelled item."""
    # a name inside a labelled value ("<<EMAIL:{Fl}.{Ll}@...>>") is part of that value
    marked = _PHI_RE.sub(
        lambda m: _TEMPLATE_SLOT_RE.sub(lambda s: _render_name(names, s.group(1)), m.group()),
        template,
    )
    marked = _TEMPLATE_SLOT_RE.sub(lambda m: f"<<NAME:{_render_name(names, m.group(1))}>>", marked)
    marked = _random_values(names.rng, marked)
    phi: list[Label] = []
    clinical: list[Label] = []
    out: list[str] = []
    position = 0
    tokens = sorted(
        [(m.start(), m.end(), m.group(1), m.group(2), True) for m in _PHI_RE.finditer(marked)]
        + [(m.start(), m.end(), m.group(1), m.group(2), False) for m in _CLIN_RE.finditer(marked)]
    )
    for start, end, category, value, is_phi in tokens:
        out.append(marked[position:start])
        out.append(value)
        (phi if is_phi else clinical).append(Label(category, value))
        position = end
    out.append(marked[position:])
    return CorpusItem(item_id, "text", "".join(out), phi, clinical, scenario)


def generate(variants: int = VARIANTS, seed: int = SEED) -> list[CorpusItem]:
    names = _Names(random.Random(seed))
    items: list[CorpusItem] = []
    for scenario, templates in TEMPLATES.items():
        for t, template in enumerate(templates):
            for v in range(variants):
                items.append(render(template, names, f"dev-{scenario}-{t:03d}-{v}", scenario))
    return items


# --- the sentences --------------------------------------------------------------------

TEMPLATES: dict[str, tuple[str, ...]] = {
    "nursing": (
        "0700 assessment: pt {P} alert, SpO2 [[NUMBER:94]] [[UNIT:%]] on 2L NC, HR [[NUMBER:88]].",
        "Pt is a <<AGE:%age>>-year-old female admitted w/ CHF exacerbation, BP [[NUMBER:142]]/[[NUMBER:81]].",
        "<<AGE:%age>> y/o M, fall at home, lac to L forehead, GCS [[NUMBER:15]].",
        "<<AGE:%age>>yo F resting comfortably, daughter {F} at bedside.",
        "Mrs {L} ambulated to bathroom with walker, tolerated well.",
        "Called son {P} re: discharge plan, no answer, left VM at <<PHONE:(%d3) %d3-%d4>>.",
        "pt {Pl} refused 2200 meds, educated on risks.",
        "Spoke w/ {PLF} (niece) who will bring clothes tomorrow.",
        "Aged <<AGE:%age>>, lives alone in <<CITY:Harrowgate Falls>>, pt reports dizziness since <<DATE:3/14>>.",
        "Patient age: <<AGE:%age>>. Allergies: PCN. Temp [[NUMBER:37.9]] [[UNIT:Cel]].",
        "{P} (<<AGE:%age>> yrs) transferred from ED to 4W at 1530.",
        "Skin intact, turned q2h. Husband {F} {L} updated by phone.",
        "Assisted pt to chair; {F} says she feels 'weak as a kitten'.",
        "Resp even and unlabored, RR [[NUMBER:18]]; pt {F} denies pain.",
        "NOK: {PLF}, tel <<PHONE:%d3-%d3-%d4>>.",
        "Received report from RN {P} at 1900, no acute events.",
        "Fingerstick glucose [[NUMBER:212]] [[UNIT:mg/dL]], covered per sliding scale, pt {LU} aware.",
        "Pt states her name is {F} and prefers to be called '{F}'.",
        "Pt is <<AGE:%age>> years old and hard of hearing; use amplifier.",
        "Patient, aged <<AGE:%age>>, was found on the floor by neighbour {P}.",
        "Bed alarm on; pt {PU} impulsive, sitter requested.",
        "Wound care done; dressing per wound RN {L}, next change <<DATE:Feb 12>>.",
        "Pt's granddaughter, {P}, is the health care proxy.",
        "Foley removed 0600, voided [[NUMBER:350]] [[UNIT:mL]] at 1010; {F} pleased.",
        "IV site L forearm patent, reported to charge nurse {F}.",
        "a <<AGE:%age>> yr old man with hx of afib on apixaban, INR n/a.",
        "Pt {F} {L} c/o nausea x2 days, zofran given with relief.",
        "Per family ({F}, daughter-in-law), pt is usually oriented x3.",
        "Woman in her <<AGE:nineties>> admitted from nursing home with UTI.",
        "Pt {PI} is NPO after midnight for procedure.",
    ),
    "discharge": (
        "DISCHARGE SUMMARY - {PULF}  MRN: <<MRN:%d8>>  DOB: <<DATE:04/11/19%d2>>",
        "Admission date: <<DATE:January 9, 2026>>; discharge date: <<DATE:January 14, 2026>>.",
        "HPI: Mr. {L} is a <<AGE:%age>> year old gentleman with COPD and HTN.",
        "Ms {L} is a <<AGE:%age>>-yr-old retired teacher from <<CITY:Port Vashell>>.",
        "The patient is a <<AGE:%age>> y.o. female presenting with syncope.",
        "Brief hospital course: {F} was treated with IV ceftriaxone and improved.",
        "Follow up with Dr. {L} in clinic on <<DATE:2/03>>, phone <<PHONE:%d3.%d3.%d4>>.",
        "Discharged home with daughter ({P}) to <<ADDRESS:%d4 Quillon Ridge Rd>>, <<CITY:Amberlow>>, <<ZIP:%d5>>.",
        "Medical record number <<MRN:%d7>> should be used for all follow-up referrals.",
        "Medical record no. <<MRN:%d7>>; account no. <<ACCOUNT:%d9>>.",
        "Pt has chart #<<MRN:%d6>> at the outside hospital.",
        "Attending: {P}, MD. Dictated <<DATE:03/22/2026>>, transcribed by {F} {L}.",
        "Patient is <<AGE:%age>>. Code status: DNR/DNI confirmed with son {F}.",
        "PCP: Dr {PI}, fax <<FAX:%d3-%d3-%d4>>.",
        "Insurance: Medicare, member id <<HEALTH_PLAN:%A1%d2%A2%d6>>.",
        "Secondary insurance policy number <<HEALTH_PLAN:PN-%d5-%d2>> (BlueRiver).",
        "Age <<AGE:%age>>, SSN <<SSN:%d3 %d2 %d4>>, emergency contact {P}.",
        "Discharge weight [[NUMBER:61.4]] [[UNIT:kg]]; pt {L} to resume home diet.",
        "Visit number <<ACCOUNT:V%d8>>, encounter <<ACCOUNT:E%d7>>.",
        "Pt ({PLF}), age <<AGE:%age>>, discharged to <<ADDRESS:%d3 Hollin Way>>.",
        "HOSP COURSE: <<AGE:%age>>F w/ sepsis 2/2 UTI, abx narrowed on day 3.",
        "Mr {PU} was seen by cardiology (Dr. {L}); echo EF [[NUMBER:35]] [[UNIT:%]].",
        "DOB <<DATE:07-30-19%d2>> (age <<AGE:%age>>).",
        "Pt is a ninety-<<AGE:%age>> ... no wait corrected: pt is <<AGE:%age>>.",
        "Claim no. <<ACCOUNT:%d4-%d7>> submitted on <<DATE:5/2/2026>>.",
        "Encounter #: <<ACCOUNT:%d9>>  Admit: <<DATE:2026-04-02>>",
        "Ms. {F} {L} is a pleasant <<AGE:%age>>-year-old lady.",
        "He is <<AGE:%age>> yrs of age and lives with his wife {F} in <<CITY:Maplecombe>>.",
        "This <<AGE:%age>>-year-old was referred by {P} of Dunmore Family Practice.",
        "Pt is <<AGE:%age>> years of age, widowed, lives in an assisted living facility.",
    ),
    "device": (
        "Tech note: {P} reports the [[MODEL:Masimo Rad-97]] in bed 12 alarms [[CODE:E-217]] intermittently.",
        "Replaced SpO2 cable on [[MODEL:Nonin 9560 Onyx]]; serial number <<DEVICE_ID:%A2%d6>> logged.",
        "Pump S/N <<DEVICE_ID:%d8>> pulled from service by {F} (biomed).",
        "[[MODEL:GE Dash 4000]] asset tag <<DEVICE_ID:%d6>> failed PM; ticket assigned to {P}.",
        "Device serial: <<DEVICE_ID:SN%d9>>, fw 4.2.1, battery [[NUMBER:87]] [[UNIT:%]].",
        "Gateway gw-07 lost BLE link to the cuff for pt {L} at 03:12; reconnected.",
        "Biomed {F} swapped the [[MODEL:Philips IntelliVue MX450]] - old unit ser# <<DEVICE_ID:%A2%d7>>.",
        "Alarm [[CODE:ERR_LEAD_OFF]] on tele for {PU} x4 in 1 hr, leads replaced.",
        "MAC <<DEVICE_ID:00:1B:%d2:4F:%d2:9A>> rejected by NAC; device belongs to {P}'s room.",
        "Calibration ok for [[MODEL:Omron HEM-907XL]]; tested on volunteer {P}, BP [[NUMBER:128]]/[[NUMBER:76]].",
        "UDI <<DEVICE_ID:(01)%d14>> scanned for implant; pt {L} informed.",
        "[[MODEL:BD Alaris 8015]] occlusion [[CODE:ALM-0107]]; pt {F} {L} rm 412.",
        "IMEI <<DEVICE_ID:%d15>> of the home hub reported by caregiver {P}.",
        "Home kit shipped to {P}, <<ADDRESS:%d4 Orrin Crescent>>, <<CITY:Lake Tessaly>>, <<ZIP:%d5>>.",
        "Readings for {PULF} uploaded late, SpO2 [[NUMBER:91]] [[UNIT:%]], PR [[NUMBER:102]] [[UNIT:/min]].",
        "Glucose meter [[MODEL:Accu-Chek Guide]] paired for {Pl}, last value [[NUMBER:143]] [[UNIT:mg/dL]].",
        "Pt {L}'s CGM ([[MODEL:Dexcom G7]]) sensor expired on <<DATE:12/19>>.",
        "RMA opened for cuff S/N: <<DEVICE_ID:%A3-%d6>> (customer contact {P}).",
        "Loaner [[MODEL:Zoll R Series]] delivered to {P} at <<ADDRESS:%d2 Calder Mews>>.",
        "Vent alarm high pressure [[NUMBER:40]] [[UNIT:cmH2O]]; RT {F} suctioned pt.",
        "Telemetry box #<<DEVICE_ID:%d5>> assigned to {PLF}.",
        "Firmware 3.1.4 pushed; device id <<DEVICE_ID:D-%d7>> owned by pt {L}.",
        "EUI-64 <<DEVICE_ID:00-1B-%d2-FF-FE-4F-%d2-9A>> seen in OBX-18 for {PU}.",
        "Oximeter reported [[NUMBER:97]] [[UNIT:%]] for {P} after probe repositioned.",
        "Weight scale [[MODEL:A&D UA-651BLE]] paired at home of {P} (<<PHONE:+1 %d3 %d3 %d4>>).",
    ),
    "ticket": (
        "INC-%d6: user {Pl} cannot log in to the nurse station kiosk.",
        "Ticket from {P} <<EMAIL:%d2.{Ll}@riverbend-health.org>>: monitor shows wrong pt name.",
        "Please reset password for {FU} {LU}; callback <<PHONE:%d3-%d3-%d4 x%d3>>.",
        "Requester: {PLF}. Location: 5 East. Issue: label printer jam.",
        "Assigned to {F}; escalated by {P} because pt MRN <<MRN:%d7>> shows on two beds.",
        "Resolved - {L} confirmed the ADT feed for acct <<ACCOUNT:%d8>> is flowing.",
        "CC: {P}, {P}, {P}",
        "Wrong patient merged: acct# <<ACCOUNT:%d7>> and MRN <<MRN:%d7>> belong to {PULF}.",
        "User reports: 'readings for {F} from yesterday are missing'.",
        "Follow-up: {Fl} from pharmacy says the pump library is fine.",
        "Please pull the audit log for {P}, encounter number <<ACCOUNT:%d9>>.",
        "Reassigned: {P} -> {P} (on call).",
        "Patient {P} (member ID <<HEALTH_PLAN:%A3%d9>>) called about a bill.",
        "License plate <<VEHICLE:%d1%A3%d3>> parked in ambulance bay; owner {P} paged.",
        "Driver's license <<LICENSE:%A1%d7>> copied into the wrong field for {PLF}.",
        "NPI <<LICENSE:%d10>> for Dr. {L} is missing on the order.",
        "Account number <<ACCOUNT:%d10>> was entered in the notes field by {F}.",
        "Visit #<<ACCOUNT:%d8>> pending; see {Pl} for details.",
        "Escalate to {PU} if not fixed by Friday <<DATE:6/5>> - thx.",
        "Screenshot attached: {L}-screen.png",
    ),
    "chat": (
        "hey can u check bed 7? {fl_placeholder} is asking for meds",
        "{Fl} said pt in 12 is <<AGE:%age>> and super sharp lol",
        "ok i paged {Fl} {Ll} again, no reply yet",
        "fyi {F}'s mom ({P}) called twice",
        "who has {LU}? vitals overdue",
        "@{Fl} pls cover my pts at 1500",
        "{F} {L} in 14 wants to talk to the doc",
        "thx {F}!!",
        "is {Pl} still in 3b or did they move her to icu",
        "pt in 9 says she's <<AGE:%age>> and a half, adorable",
        "new admit: <<AGE:%age>>m, hip fx, from <<CITY:Wexmoor>>, family = son {F}",
        "lunch? ask {F} and {F} too",
        "the sat probe for {F} keeps falling off, spo2 [[NUMBER:89]] now",
        "omg {PU} pulled his IV again",
        "can someone call {F} back at <<PHONE:%d3 %d3 %d4>>",
        "{Fl}: i think the alaris in 6 is broken",
        "pt {Fl} {Ll} turned <<AGE:%age>> today!! cake at 2",
        "brb, {F} needs help with a transfer",
        "tell {F} the cuff reads [[NUMBER:150]]/[[NUMBER:92]], recheck in 15",
        "{PLF} is a DNR btw",
    ),
    "log": (
        "2026-03-02T10:14:22Z WARN ingest: unknown patient name '{PU}' in PID-5, record dropped",
        "INFO uplink: published 12 obs for device pulse-ox-3 (pt {L})",
        "ERROR hl7: NTE-3 contains '{P} called' ; scrubbed",
        "DEBUG mapping MRN <<MRN:%d8>> -> vault token",
        "WARN frame: bad checksum from /dev/ttyUSB0, reading [[NUMBER:72]] dropped for {PULF}",
        "user={Fl}.{Ll} action=login result=ok src=10.0.4.17",
        "audit: {Fl}_{Ll} viewed chart <<MRN:%d7>>",
        "job export_{PFILE}_<<DATE:20260302>>.csv finished in 4.2 s",
        "ERROR could not open /data/exports/{PFILE}/vitals.csv",
        'patient_name="{P}" age=<<AGE:%age>> ward=4W',
        "age:<<AGE:%age>> sex:F name:{PULF}",
        "sent SMS to <<PHONE:+1%d10>> for {F}",
        "upload ok: {PCAMEL}_ECG.pdf",
        "queue depth 17; last msg from {L} bed 3",
        "INFO alarm ack by {F}.{L} at 02:17",
        "session for {Pl} expired",
        "pt_id=<<MRN:%d8>> pt_age=<<AGE:%age>> spo2=[[NUMBER:95]]",
        "WARN device serial=<<DEVICE_ID:%A2%d8>> not in registry",
        "mail to <<EMAIL:{Fl}.{Ll}@gmail.com>> bounced",
        "fetched https://portal.example-clinic.org/patients/<<MRN:%d7>>/chart",
    ),
    "files": (
        "attached {PFILE}_<<DATE:20260411>>.pdf",
        "see {PFILE}.csv for the full trend",
        "Export: ECG_{PCAMEL}_<<DATE:2026-01-05>>.xml",
        "file {PFILE}_ecg_strip.png uploaded by {F}",
        "{PFILE}-<<MRN:%d7>>.hl7 rejected",
        "SCAN_{PFILE}_front.jpg",
        "trend_{PFILE}.xlsx (<<AGE:%age>>y)",
        "Holter report {PCAMEL}.pdf reviewed by Dr. {L}",
        "renamed {PFILE}_old.txt to archive/",
        "discharge_{PFILE}_final.docx",
    ),
    "csv": (
        "{PULF},<<DATE:19%d2-02-11>>,<<AGE:%age>>,F,4W,[[NUMBER:96]]",
        '"{PLF}",<<MRN:%d8>>,<<PHONE:%d3-%d3-%d4>>,active',
        "{P};<<AGE:%age>>;<<ZIP:%d5>>;[[NUMBER:132]];[[NUMBER:78]]",
        "name,age,spo2\n{P},<<AGE:%age>>,[[NUMBER:93]]",
        "id|name|bed\n<<MRN:%d7>>|{PU}|12",
        "{L},{F},<<SSN:%d3-%d2-%d4>>",
        "{Pl},<<EMAIL:{Fl}%d2@yahoo.com>>,<<PHONE:%d3.%d3.%d4>>",
        "row 41: {PULF} | acct <<ACCOUNT:%d9>> | ok",
        "{F} {L}\t<<AGE:%age>>\tM\t[[NUMBER:36.8]]",
        "<<MRN:%d7>>,{PLF},<<DATE:07/01/2026>>",
    ),
    "ages": (
        "<<AGE:%age>>F with dementia, pleasantly confused.",
        "pt <<AGE:%age>>M admitted overnight.",
        "<<AGE:%age>> M, CP radiating to L arm.",
        "<<AGE:%age>> F presents with weakness.",
        "age <<AGE:%age>>, widowed.",
        "Age: <<AGE:%age>>",
        "age=<<AGE:%age>>",
        "AGE <<AGE:%age>> YRS",
        "<<AGE:%age>> yrs, NKDA.",
        "<<AGE:%age>> yr old, full code.",
        "<<AGE:%age>>-yo woman, fall.",
        "<<AGE:%age>> years old, lives with son.",
        "a <<AGE:%age>>-year-old",
        "<<AGE:%age>> year-old male",
        "<<AGE:%age>>y female",
        "<<AGE:%age>>y/o female",
        "<<AGE:%age>> y.o. male",
        "<<AGE:%age>>-y-o man",
        "<<AGE:%age>>yr F",
        "he is <<AGE:%age>> now.",
        "she just turned <<AGE:%age>> last week.",
        "at <<AGE:%age>> she still gardens daily.",
        "pt (<<AGE:%age>>) refuses transfer.",
        "{P}, <<AGE:%age>>, was seen today.",
        "aged <<AGE:%age>> years",
        "<<AGE:%age>> years of age",
        "age <<AGE:%age>>yo",
        "ninety-<<AGE:nine>> ... scrap",
        "she is <<AGE:ninety-three>> years old.",
        "A <<AGE:ninety-one>>-year-old gentleman.",
        "he is a man in his <<AGE:90s>> with CKD.",
        "pt is in her <<AGE:nineties>>.",
        "<<AGE:%age>>-year-old (DOB <<DATE:1/2/19%d2>>)",
        "Age (yrs): <<AGE:%age>>",
        "pt age <<AGE:%age>>, wt [[NUMBER:48]] [[UNIT:kg]]",
        "<<AGE:%age>> y, SpO2 [[NUMBER:92]] [[UNIT:%]]",
        "Ages of residents on ward: <<AGE:%age>>, <<AGE:%age>> and <<AGE:%age>>.",
        "DOB: <<DATE:03/03/19%d2>> (<<AGE:%age>>)",
        "pt <<AGE:%age>>yo, HR [[NUMBER:64]]",
        "centenarian (<<AGE:%age>> years) celebrated on the ward",
        "Resident, <<AGE:%age>>, female, bed 4",
        "<<AGE:ninety-four>> y/o lady, independent",
        "age <<AGE:ninety-two>>, hard of hearing",
        # round three (issue 15): more phrasings, written before the rules
        "he is a widower in his mid-<<AGE:90s>>, lives alone.",
        "she turned <<AGE:ninety-five>> on the ward, family brought cake.",
        "pt is <<AGE:ninety-three>> and sharp as a tack.",
        "Age/Sex: <<AGE:%age>>/F   Bed: 12B",
        "<<AGE:%age>>/M with COPD exacerbation, on [[NUMBER:2]] L NC",
        "M/<<AGE:%age>>, chest pain since this morning",
        "age ~<<AGE:%age>> per family, no documents",
        "age approx. <<AGE:%age>>, unknown DOB",
        "<<AGE:%age>>yF, mechanical fall, no LOC",
        "a frail woman of <<AGE:%age>> admitted from home",
        "a gentleman of <<AGE:ninety-one>> with CHF",
        "<<AGE:%age.5>> yo male, HR [[NUMBER:58]] [[UNIT:bpm]]",
        "aged about <<AGE:%age>>, lives with {F}",
    ),
    "identifiers": (
        "mrn <<MRN:%d7>> verified at bedside",
        "MRN#<<MRN:%d8>>",
        "his medical record number is <<MRN:%d8>>",
        "med rec # <<MRN:%d7>>",
        "chart no. <<MRN:%d6>> pulled",
        "hospital number <<MRN:%A1%d7>> on wristband",
        "patient ID <<MRN:%d9>>",
        "acct <<ACCOUNT:%d9>>",
        "account #<<ACCOUNT:%d4-%d5>>",
        "the account number is <<ACCOUNT:%d8>>",
        "billing acct: <<ACCOUNT:%A2%d7>>",
        "encounter <<ACCOUNT:%d9>> closed",
        "visit no. <<ACCOUNT:%d8>>",
        "FIN <<ACCOUNT:%d9>>",
        "CSN: <<ACCOUNT:%d10>>",
        "insurance id <<HEALTH_PLAN:%A3%d8>>",
        "member number <<HEALTH_PLAN:%d11>>",
        "Medicaid # <<HEALTH_PLAN:%A2%d8>>",
        "policy no. <<HEALTH_PLAN:%d9>>",
        "subscriber id: <<HEALTH_PLAN:%A1%d9>>",
        "claim # <<ACCOUNT:%d12>>",
        "SSN <<SSN:%d3-%d2-%d4>>",
        "ssn: <<SSN:%d3 %d2 %d4>>",
        "social security number <<SSN:%d9>>",
        "SS# <<SSN:%d3.%d2.%d4>>",
        "last 4 of SSN <<SSN:%d4>>",
        "DL <<LICENSE:%A1%d8>>",
        "license number <<LICENSE:%A2%d6>>",
        "passport <<LICENSE:%d9>>",
        "DEA # <<LICENSE:%A2%d7>>",
        "plate <<VEHICLE:%A3-%d4>>",
        "VIN <<VEHICLE:1HGCM%d2%A1%d2%A1%d6>>",
        "serial no. <<DEVICE_ID:%A1%d8>>",
        "sn: <<DEVICE_ID:%d10>>",
        "ID <<ID:%A2-%d6>>",
        "case number <<ID:%d4-%d6>>",
        "ref: patient <<MRN:%d7>>",
        "pt #<<MRN:%d6>> in bay 4",
        "MR <<MRN:%d7>>",
        "Order #<<ID:%d9>> for {P}",
    ),
    "dates_places": (
        "seen on <<DATE:March 3rd>> and again <<DATE:3/17>>.",
        "admitted <<DATE:12/30/2025>>, discharged <<DATE:1/4/2026>>.",
        "DOB <<DATE:1931-05-06>>",
        "born <<DATE:4 Aug 1930>> in <<CITY:Kessling>>",
        "next appt <<DATE:Tues 9/9>> at 10:30",
        "last seen <<DATE:Jan 4>>",
        "surgery <<DATE:14-Feb-2026>>",
        "lives in <<CITY:East Marrow>> with her sister {F}.",
        "moved to <<CITY:Ruscombe>> after her husband {F} died.",
        "<<ADDRESS:%d3 Vellan St>>, <<CITY:Tollbridge>>, <<ZIP:%d5>>",
        "<<CITY:Crane Hollow>>, OR <<ZIP:%d5>>",
        "address: <<ADDRESS:%d4 Pemberly Ave Apt 3>>, <<CITY:Northfold>>",
        "home zip <<ZIP:%d5>>",
        "Zip code: <<ZIP:%d5-%d4>>",
        "phone <<PHONE:(%d3) %d3-%d4>> / cell <<PHONE:%d3-%d3-%d4>>",
        "email: <<EMAIL:{Fl}_{Ll}@outlook.com>>",
        "url <<URL:www.{Ll}-family.net>>",
        "portal link <<URL:https://mychart.example.org/p/%d8>>",
        "IP <<IP:192.168.%d1.%d2>> belongs to the patient's home hub",
        "fax to <<FAX:%d3-%d3-%d4>> attn {P}",
    ),
}

# chat template with a placeholder slot name kept readable above
TEMPLATES["chat"] = tuple(t.replace("{fl_placeholder}", "{Fl}") for t in TEMPLATES["chat"])
# a few self-corrections and scratch notes in the lists above are deliberate noise, but
# these two would mislabel (a partial word labelled as an age): drop them
TEMPLATES["discharge"] = tuple(t for t in TEMPLATES["discharge"] if "ninety-<<" not in t)
TEMPLATES["ages"] = tuple(t for t in TEMPLATES["ages"] if "ninety-<<" not in t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", default=str(JSONL))
    args = parser.parse_args()
    items = generate()
    write_jsonl(items, args.write)
    print(f"{len(items)} items -> {args.write}")


if __name__ == "__main__":
    main()
