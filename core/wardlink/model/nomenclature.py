"""IEEE 11073-10101 terms and UCUM units used by the built-in codecs.

Codes are ``partition << 16 | term``; partition 2 is SCADA (physiological metrics).
Checked against IEEE 11073-10101 and the IHE PCD Rosetta tables; the Personal
Health Device profiles (10404 oximeter, 10407 BP, 10408 thermometer, 10415 scale,
10417 glucose) use the same terms.
"""

from __future__ import annotations

from wardlink.model.observation import Metric

SPO2 = Metric(mdc_code=150456, mdc_name="MDC_PULS_OXIM_SAT_O2")
PULSE_RATE_OXIM = Metric(mdc_code=149530, mdc_name="MDC_PULS_OXIM_PULS_RATE")
PERFUSION_INDEX = Metric(mdc_code=150488, mdc_name="MDC_PULS_OXIM_PERF_REL")
HEART_RATE_ECG = Metric(mdc_code=147842, mdc_name="MDC_ECG_HEART_RATE")
PULSE_RATE_NIBP = Metric(mdc_code=149546, mdc_name="MDC_PULS_RATE_NON_INV")
BP_SYSTOLIC = Metric(mdc_code=150021, mdc_name="MDC_PRESS_BLD_NONINV_SYS")
BP_DIASTOLIC = Metric(mdc_code=150022, mdc_name="MDC_PRESS_BLD_NONINV_DIA")
BP_MEAN = Metric(mdc_code=150023, mdc_name="MDC_PRESS_BLD_NONINV_MEAN")
TEMP_BODY = Metric(mdc_code=150364, mdc_name="MDC_TEMP_BODY")
RESP_RATE = Metric(mdc_code=151562, mdc_name="MDC_RESP_RATE")
BODY_WEIGHT = Metric(mdc_code=188736, mdc_name="MDC_MASS_BODY_ACTUAL")
BODY_HEIGHT = Metric(mdc_code=188740, mdc_name="MDC_LEN_BODY_ACTUAL")
BMI = Metric(mdc_code=188752, mdc_name="MDC_RATIO_MASS_BODY_LEN_SQ")
GLUCOSE_CAPILLARY = Metric(mdc_code=160184, mdc_name="MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD")

# UCUM codes (case-sensitive).
UCUM_PERCENT = "%"
UCUM_PER_MIN = "/min"
UCUM_MMHG = "mm[Hg]"
UCUM_KPA = "kPa"
UCUM_CEL = "Cel"
UCUM_DEGF = "[degF]"
UCUM_KG = "kg"
UCUM_LB = "[lb_av]"
UCUM_M = "m"
UCUM_MG_DL = "mg/dL"
UCUM_MMOL_L = "mmol/L"
UCUM_KG_M2 = "kg/m2"
