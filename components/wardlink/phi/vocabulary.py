"""Word lists that steer the name finder: which words need context, which never are names.

Three kinds of words matter when deciding whether a word is a name:

* ``STOPWORDS`` - function words (and faker's odd entries such as "the") that are
  never names, whatever surrounds them.
* ``COMMON_WORDS`` - ordinary English words that are also real given names or
  surnames ("may", "will", "hope", "long", "white"). They are names only with
  context: a title or cue before them, a capital letter mid-sentence, or another
  name next to them. Without this list, "will recheck" would lose its verb.
* ``CLINICAL_TERMS`` - device and clinical vocabulary, including manufacturer names
  that are also surnames ("Welch", "Baxter", "Edwards"). They are never names
  unless a title or a cue sits right before them, so device models and alarm
  text survive the scrubber. Sites add their own through the policy
  (``text.keep_terms``).
"""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """A word list written as whitespace-separated text."""
    return frozenset(text.split())


MONTHS: frozenset[str] = frozenset(
    {"january", "february", "march", "april", "may", "june", "july", "august",
     "september", "october", "november", "december",
     "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)  # fmt: skip

WEEKDAYS: frozenset[str] = frozenset(
    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
     "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun"}
)  # fmt: skip

STOPWORDS: frozenset[str] = words(
    """
    a an the and or but nor of in on at to for from by with without into onto upon as is are was
    were be been being am do does did done has have had having not no yes it its it's this that
    these those there here then than so if else when while where who whom whose which what why
    how all any some each every both either neither i me my mine we us our you your he him his
    she her hers they them their can could shall should would must might ought per via vs etc ok
    okay ii iii iv en es et al eco edu com org net www http https pdf png jpg jpeg txt csv dat
    log re pt mr mrs ms dr md rn np pa jr sr mx prof miss mister sir madam
    """
)

#: Ordinary English words that are also frequent given names or surnames.
COMMON_WORDS: frozenset[str] = (
    words(
        """
    will may can hope grace joy faith rose dawn summer autumn winter spring mark bill art pat
    sue rich guy chase page bell hall ward king hill wood stone price cook lane rice banks wells
    head low major miles ray grant case field glass house job key law little lot more north
    south east west power read real rock room short small story strong wall best ball clear
    church carry day deep doctor early fall floor good company parent young long white black
    brown green gray grey gold silver love star sky storm river lake sandy sunny happy merry
    cross moon snow frost rain bond cash penny bridge ford gate port street road way mill park
    crest ridge cliff clay sand lime steel iron lead tin copper brass red blue pink amber olive
    bass pike salt sugar honey butter cream bacon ham lamb beef new old late back side hand foot
    arm leg kid doe buck hood pool well don jack max val ed frank just judge noble fair free
    hardy moody bright sharp swift quick sweet wise gay bush drew hunt stout gross hale
    """
    )
    | MONTHS
    | WEEKDAYS
)

#: Device and clinical vocabulary, plus manufacturer names that double as surnames.
CLINICAL_TERMS: frozenset[str] = words(
    """
    alarm alarms alert alerts inop inoperative lead leads probe sensor sensors cuff cable
    battery batteries charge charging power mains dock docking display screen monitor monitors
    pump pumps infusion channel line lines port ports module modules bed beds bay room ward unit
    icu ccu nicu picu er ed or pacu nurse nurses station technician tech biomed clinician
    physician attending resident heart rate pulse rhythm pace pacer paced pacemaker ecg ekg spo2
    sao2 nibp ibp abp art cvp pap etco2 co2 resp respiration temp temperature core skin rectal
    oral tympanic axillary weight height glucose bolus dose rate volume occlusion air pressure
    systolic diastolic mean high low very critical warning advisory fault error code event
    status mode standby ready running paused stopped silenced silence reset acknowledge
    acknowledged latched snooze check replace connect disconnected disconnect connected
    reconnect signal noise artifact motion perfusion weak strong loss lost found good poor fair
    quality valid invalid questionable firmware software version update upgrade serial model
    device devices gateway network wifi wireless bluetooth ethernet welch allyn baxter edwards
    philips stryker masimo nonin mindray medtronic zoll draeger drager dräger spacelabs nihon
    kohden ge carescape dash datex ohmeda hill rom hillrom smiths medical alaris bd becton
    dickinson braun b.braun fresenius hamilton hospira icu medical covidien nellcor puritan
    bennett omron a&d withings intellivue connex vital signs propaq lifepak physio control
    cardinal health abbott roche accu chek contour freestyle dexcom tandem insulet omnipod
    beckman coulter siemens sysmex radiometer instrumentation laboratory natus getinge maquet
    servo vyaire carefusion bird avea resmed respironics trilogy fisher paykel bard teleflex
    arrow cook vygon moog sigma plum curlin sapphire eitan benevision passport datascope mortara
    burdick schiller norav nemon radical rad root pronto rainbow nellcor bedside central
    telemetry tele agilia cadd solis delta guide hemosphere infinity libre onyx perfusor qube
    series space spectrum spot wristox freestyle accu chek dexcom intellivue carescape
    benevision lifesciences nephew olympus storz baxter alaris sigma cel mmhg kpa bpm mg dl mmol
    spo pr rr hr nibp sys dia mean temp
    """
)

#: Words that announce a person's name right after them.
TITLE_CUES: frozenset[str] = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "professor", "sir",
     "madam", "nurse", "rn", "lpn", "np", "sister", "brother", "father", "mother",
     "rev", "reverend", "capt", "sgt", "lt", "col", "officer", "dame", "lady", "lord"}
)  # fmt: skip

#: Words after which a name usually follows ("patient Jane Doe", "wife of Will Hope").
PERSON_CUES: frozenset[str] = words(
    """
    patient pt pts name named names called surname lastname firstname forename given family son
    daughter wife husband spouse partner mother father mom dad brother sister sibling aunt uncle
    niece nephew cousin grandson granddaughter grandmother grandfather grandma grandpa guardian
    caregiver carer nok kin contact emergency friend neighbor employer employed emp works
    workplace neighbour roommate landlord employer boss coworker colleague attending physician
    provider surgeon resident intern nurse tech technician therapist pcp referring ordering
    signed cosigned by per spoke talked visited visitor informed notified paged texted emailed
    messaged
    """
)

#: Words after which a city name usually follows.
CITY_CUES: tuple[str, ...] = (
    "lives in",
    "living in",
    "resides in",
    "resident of",
    "moved to",
    "home in",
    "hometown",
    "city",
    "town",
    "born in",
    "relocated to",
    "transferred from",
)

#: Abbreviations the English word list lacks: clinical (notes, alarms) and the IT of a
#: gateway (logs, tickets). Upper-case unknown words of 4+ letters are taken for names,
#: so these must be known.
ABBREVIATIONS: frozenset[str] = words(
    """
    hx dx tx rx sx fx bx px nibp ibp etco fio peep cpap bipap vent icu nicu picu ccu pacu
    ed er or ob gyn ent gi gu cv cvp pap abp map hr rr bp spo sao pao inr ptt bun wbc rbc hgb
    hct plt bmp cmp abg vbg ecg ekg eeg emg ct mri cxr kub iv im sc sq po pr prn bid tid qid
    qd qhs stat npo nkda sob cp cad chf copd dm htn afib vfib vtach svt pvc pac nsr lbbb rbbb
    stemi nstemi uti dvt pe cva tia mi osa ards gcs loc aox avpu dnr dni polst mrn csn fin
    req ack nak mllp hl obx pid pv nte obr orc msh evn ucum mdc ieee ihe pcd dec oru adt
    usb ble gatt uart tcp udp ip mqtt tls http api json xml csv utc gmt est pst cst mst
    fw hw sw ui ux os id ids uuid eui mac imei ppm bpm mmhg kpa cmh mmol mg mcg ml kg lb degc
    degf cel sys dia pi pvi sphb spoc spmet rrp rra gcs cbc cmp lfts trop bnp crp esr
    vlan wlan ssid dhcp dns vpn lan wan nat ntp ssh scp sftp smtp snmp ldap saml oauth sso
    mfa sdk cli gui cpu gpu ram rom ssd hdd nas ups pdu poe rfid nfc lte gsm oom ota rma
    eta sla kpi faq qos iot aws gcp cdk sqs sns iam kms vm vms db sql nosql crud rest rpc
    grpc tcp ipv http https url uri uuid guid hmac aes rsa sha tls ssl pki csr crl ocsp
    na ca cl fe hb zn cu mg po pco hco ph rn lpn cna md np pa dds rph pharmd
    pls plz thx tx omg brb fyi lol btw asap imo idk tbh ttyl afaik wfh eod eob lic acct
    """
)
