"""Scenario family 'consume' (placeholder; run by bench.py when FAMILIES contains it)."""


def run(ctx, args, emit):
    ctx.log("family consume: not written yet")


def report(records):
    return ""
