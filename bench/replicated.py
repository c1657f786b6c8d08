"""Scenario family 'replicated' (placeholder; run by bench.py when FAMILIES contains it)."""


def run(ctx, args, emit):
    ctx.log("family replicated: not written yet")


def report(records):
    return ""
