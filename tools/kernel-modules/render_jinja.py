#!/usr/bin/env python3
"""Render a *trivial* Jinja2 template without jinja2 (stdlib only).

Usage: render_jinja.py TEMPLATE OUTPUT name=value [name=value ...]

Supports exactly what FlashInfer's gdn_prefill_sm90_kernel_inst.jinja uses:
`{{ name }}` substitutions of plain strings.  Anything else (`{% ... %}`,
`{# ... #}`, filters, attribute access, undefined names) is rejected, so a
future template that needs real Jinja fails loudly instead of rendering wrong.

Output matches jinja2.Template(src).render(**vars) with default settings,
which drops a single trailing newline (keep_trailing_newline=False).
The output file is only rewritten when its content changes (like
flashinfer.jit.utils.write_if_different).
"""
import os
import re
import sys

_EXPR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render(src: str, env: dict) -> str:
    for bad in ("{%", "{#"):
        if bad in src:
            raise SystemExit(f"render_jinja.py: unsupported Jinja construct {bad!r}")

    def sub(m):
        name = m.group(1)
        if name not in env:
            raise SystemExit(f"render_jinja.py: undefined template variable {name!r}")
        return env[name]

    if src.count("{{") != len(_EXPR.findall(src)):
        # an expression that is not a bare name (filters, attributes, ...)
        raise SystemExit("render_jinja.py: unsupported {{ ... }} expression in template")
    out = _EXPR.sub(sub, src)
    if out.endswith("\n"):
        out = out[:-1]
    return out


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    template, output = argv[0], argv[1]
    env = {}
    for kv in argv[2:]:
        k, sep, v = kv.partition("=")
        if not sep:
            raise SystemExit(f"render_jinja.py: bad argument {kv!r} (want name=value)")
        env[k] = v
    with open(template, encoding="utf-8") as f:
        text = render(f.read(), env)
    try:
        with open(output, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, output)


if __name__ == "__main__":
    main(sys.argv[1:])
