"""Scenario family 'scale' (placeholder; run by bench.py when FAMILIES contains it)."""


def run(ctx, args, emit):
    ctx.log("family scale: not written yet")


def report(records):
    return ""
