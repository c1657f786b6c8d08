"""Scenario family 'timer' (placeholder; run by bench.py when FAMILIES contains it)."""


def run(ctx, args, emit):
    ctx.log("family timer: not written yet")


def report(records):
    return ""
