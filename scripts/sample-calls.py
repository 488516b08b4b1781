#!/usr/bin/env python3
"""Writes examples/calls-day.csv: a day of calls to an Indian support line, for
`routec simulate`. Deterministic (seeded), so the file and the README's figures stay put.

A Monday, 2026-11-23, 07:00-23:00 IST: a morning peak (10-12) and an evening peak (17-19);
IVR digits 1 (tech), 2 (billing), 3 (Spanish) or none; callers from landlines of several
cities (STD codes) and from mobiles; talk times with a long tail; about one call in eight
unanswered. Some rows carry CRM facts (`facts.caller.tier`, `facts.caller.payment_overdue`),
as an export joined with the CRM would.

Run: python3 scripts/sample-calls.py > examples/calls-day.csv
"""
import math
import random

rng = random.Random(20261123)

HOURS = {7: 25, 8: 70, 9: 150, 10: 250, 11: 260, 12: 180, 13: 130, 14: 150, 15: 150,
         16: 180, 17: 240, 18: 230, 19: 150, 20: 90, 21: 50, 22: 30}
STD = ["080", "080", "080", "022", "022", "011", "044", "033", "040", "020", "079"]
DIGITS = ["1"] * 40 + ["2"] * 30 + ["3"] * 8 + [""] * 22
TIERS = ["standard"] * 70 + ["premium"] * 22 + ["enterprise"] * 8


def caller():
    if rng.random() < 0.45:
        code = rng.choice(STD)
        return code + "".join(str(rng.randrange(10)) for _ in range(11 - len(code)))
    return "09" + "".join(str(rng.randrange(10)) for _ in range(9))


def talk_seconds():
    # Log-normal: a median of 2.5 minutes, a few calls much longer.
    return max(15, min(3600, int(rng.lognormvariate(math.log(150), 0.7))))


print("CallSid,StartTime,From,To,Digits,DialCallDuration,Status,"
      "facts.caller.tier,facts.caller.payment_overdue")
rows = []
for hour, count in HOURS.items():
    for _ in range(count):
        second = rng.randrange(3600)
        rows.append((hour * 3600 + second, caller()))
rows.sort()
for n, (at, frm) in enumerate(rows, 1):
    h, rest = divmod(at, 3600)
    m, s = divmod(rest, 60)
    status = "completed" if rng.random() < 0.88 else rng.choice(["no-answer", "busy", "failed"])
    duration = talk_seconds() if status == "completed" else 0
    known = rng.random() < 0.6
    tier = rng.choice(TIERS) if known else ""
    overdue = ("true" if rng.random() < 0.1 else "false") if known else ""
    print(f"sample{n:05d},2026-11-23 {h:02d}:{m:02d}:{s:02d},{frm},08047112233,"
          f"{rng.choice(DIGITS)},{duration},{status},{tier},{overdue}")
