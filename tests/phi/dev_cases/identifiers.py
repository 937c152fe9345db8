"""A generator of identifier phrasings in free text, written for issue 15 (round three).

Medical record numbers, accounts, visits, encounters, charts and patient ids as people
type them: the cue word before or after the value, with any separator ("MRN: ",
"MR#", "acct no. ", "visit #", "(chart number)"), and values of digits, letters and
digits, leading zeros and dash or dot groups. Beside them, the numbers the policy
keeps in clinical text - lot, model, REF/catalogue and part numbers, firmware
versions and error codes - which must survive. Everything here is combined from
lists written for this file (no evaluation set was looked at); the held-out set
stays the honest measure.

    python -m tests.phi.dev_cases.identifiers     # print the misses
"""

from __future__ import annotations

import random
import re

from wardlink.phieval.corpus import CorpusItem, Label

SEED = 150315

#: (category, cue) - the way the cue is written varies (case, abbreviation, "#", "no.").
CUES: tuple[tuple[str, str], ...] = (
    ("MRN", "MRN"), ("MRN", "mrn"), ("MRN", "MR#"), ("MRN", "MR #"), ("MRN", "MR no."),
    ("MRN", "Medical Record No."), ("MRN", "medical record number"), ("MRN", "Med Rec #"),
    ("MRN", "med rec no"), ("MRN", "Chart #"), ("MRN", "chart number"), ("MRN", "Chart No."),
    ("MRN", "Patient ID"), ("MRN", "pt ID"), ("MRN", "Pt. ID"), ("MRN", "patient id#"),
    ("MRN", "Patient No."), ("MRN", "Hospital No."), ("MRN", "hosp #"), ("MRN", "Unit No."),
    ("MRN", "MPI"), ("MRN", "EMPI #"), ("MRN", "record #"), ("MRN", "EHR ID"), ("MRN", "EMR #"),
    ("MRN", "Med. Rec. no."), ("ACCOUNT", "acct."),
    ("ACCOUNT", "Acct #"), ("ACCOUNT", "acct no."), ("ACCOUNT", "Account Number"),
    ("ACCOUNT", "account"), ("ACCOUNT", "Visit No."), ("ACCOUNT", "visit #"),
    ("ACCOUNT", "Visit ID"), ("ACCOUNT", "Encounter #"), ("ACCOUNT", "enc no."),
    ("ACCOUNT", "FIN"), ("ACCOUNT", "FIN#"), ("ACCOUNT", "CSN"), ("ACCOUNT", "HAR"),
    ("ACCOUNT", "Admission #"), ("ACCOUNT", "adm no."),
    ("ID", "Case #"), ("ID", "case number"), ("ID", "Accession #"), ("ID", "accession no."),
)  # fmt: skip

#: What may stand between a cue and its value.
SEPARATORS: tuple[str, ...] = (" ", ": ", ":", " : ", "#", " #", " # ", "=", " - ", ": #",
                               "\t", " number ", " is ", " no. ")  # fmt: skip

#: Value shapes: %dN N digits (the first not 0 unless written), %AN N capitals, %aN N
#: lower-case letters.
VALUES: tuple[str, ...] = (
    "%d7", "%d8", "%d9", "%d10", "00%d5", "000%d6", "%d6", "%d5", "%A1%d7", "%A2%d6",
    "%A2-%d6", "%d3-%d4", "%d2-%d3-%d4", "%A3%d4", "E%d9", "%d3.%d3.%d3", "%a2%d6",
    "%A1%d2%A1%d4", "%d4 %d4",
)  # fmt: skip

#: Sentences with the cue and value after ({ID}) or the value before its cue ({VAL}, {CUE}).
FRAMES_AFTER: tuple[str, ...] = (
    "Verified {ID} at bedside with two identifiers.",
    "{ID}",
    "Labels printed for {ID}; specimen sent to lab.",
    "Pt transferred to 4W ({ID}), tele continued.",
    "Discharge summary faxed, {ID}.",
    "ticket: monitor in bay 3 shows wrong {ID} on the banner",
    "Please merge charts - duplicate {ID} created at registration.",
    "INFO adt: A08 update for {ID} applied",
)
FRAMES_BEFORE: tuple[str, ...] = (
    "Wristband reads {VAL} ({CUE}).",
    "{VAL} is the {CUE} on the requisition.",
    "use {VAL} as {CUE} for the re-order",
)

#: Numbers the policy keeps in clinical text: (sentence, the value that must survive).
KEPT: tuple[tuple[str, str], ...] = (
    ("Glucometer strips lot {V} expired, replaced.", "%d2%A1%d4"),
    ("Lot #: {V} recalled by the vendor.", "%d2%A1%d4"),
    ("Lot no. {V} quarantined in pharmacy.", "%A2%d6"),
    ("Replaced the model {V} cuff.", "%A2%d3"),
    ("Model: {V}, firmware 3.2.7", "%A3-%d4"),
    ("REF {V} sensor, box of 24.", "%d12"),
    ("Ordered cat. no. {V} from Central Supply.", "%d7"),
    ("Catalog # {V} backordered.", "%d8"),
    ("P/N {V} battery pack.", "%d9"),
    ("Part number: {V} on order.", "%d3-%d4-%d2"),
    ("Pump shows error {V}, restarted.", "%d7"),
    ("Alarm code {V} cleared after reseating.", "E-%d4"),
    ("firmware version {V} pushed to ward gateways", "%d1.%d2.%d3"),
    ("fw {V} rolled back", "%d1.%d1.%d2"),
    ("INOP code {V} on the telemetry pack", "%d5"),
    ("MDC code {V} mapped to the heart rate", "%d6"),
)

_RANDOM_RE = re.compile(r"%([dAa])(\d+)")


def fill(rng: random.Random, shape: str) -> str:
    def one(match: re.Match[str]) -> str:
        kind, count = match.group(1), int(match.group(2))
        if kind == "d":
            return str(rng.randint(1, 9)) + "".join(
                rng.choice("0123456789") for _ in range(count - 1)
            )
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        word = "".join(rng.choice(letters) for _ in range(count))
        return word if kind == "A" else word.lower()

    return _RANDOM_RE.sub(one, shape)


def generate(count: int = 400, seed: int = SEED) -> list[CorpusItem]:
    """``count`` identifier sentences and every kept-number sentence (twice)."""
    rng = random.Random(seed)
    items: list[CorpusItem] = []
    for n in range(count):
        category, cue = rng.choice(CUES)
        value = fill(rng, rng.choice(VALUES))
        if n % 4 == 3:
            text = rng.choice(FRAMES_BEFORE).format(VAL=value, CUE=cue)
        else:
            text = rng.choice(FRAMES_AFTER).format(ID=f"{cue}{rng.choice(SEPARATORS)}{value}")
        items.append(CorpusItem(f"ids-{n:03d}", "text", text, [Label(category, value)], []))
    for n, (sentence, shape) in enumerate(KEPT * 2):
        value = fill(rng, shape)
        text = sentence.format(V=value)
        items.append(CorpusItem(f"ids-kept-{n:03d}", "text", text, [], [Label("CODE", value)]))
    return items


if __name__ == "__main__":  # pragma: no cover - a developer's view of the misses
    from wardlink.phi import RedactionPolicy
    from wardlink.phieval.scoring import evaluate

    evaluation = evaluate(generate(), RedactionPolicy.default().redact)
    print(evaluation.table())
    for miss in evaluation.misses:
        print(f"  {miss.kind} {miss.category}: {miss.value!r} ({miss.item_id})")
