#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Render the small Jinja2 subset FlashInfer 0.6.3's JIT templates use (stdlib only).

Usage: render_jinja.py TEMPLATE OUTPUT name=value [name=value ...]
   or: import render_jinja; render_jinja.render(src, env)

Supported, with jinja2's default settings (no autoescape, no trim_blocks, no
lstrip_blocks, keep_trailing_newline=False):

* `{{ name }}`                       value of a variable (str(); ints allowed)
* `{% for name in [1, 2, 3] %}...{% endfor %}`   loop over a list of int literals
* `{% set name = a ~ 'lit' ~ b %}`  concatenation of names and quoted strings

That is exactly what gdn_prefill_sm90_kernel_inst.jinja,
batch_{decode,prefill}_customize_config.jinja,
batch_decode_kernel_inst.jinja, batch_prefill_{paged,ragged}_kernel_inst.jinja
and jit/activation.py's `activation_templ` use.  Anything else (comments,
whitespace control `{%-`, filters, attributes, other tags, undefined names) is
rejected, so a template that needs real Jinja fails loudly instead of
rendering wrong.  Like jinja2's lexer, the template source is split with
str.splitlines() and re-joined with "\\n", which drops one trailing newline.
The output file is only rewritten when its content changes (like
flashinfer.jit.utils.write_if_different).
"""
import os
import re
import sys

_TOKEN = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#)", re.S)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_EXPR = re.compile(r"\{\{\s*(" + _NAME + r")\s*\}\}\Z")
_FOR = re.compile(r"\{%\s*for\s+(" + _NAME + r")\s+in\s+\[([0-9,\s]*)\]\s*%\}\Z")
_ENDFOR = re.compile(r"\{%\s*endfor\s*%\}\Z")
_SET = re.compile(r"\{%\s*set\s+(" + _NAME + r")\s*=\s*(.*?)\s*%\}\Z", re.S)
_CONCAT_ITEM = re.compile(r"\s*(?:(" + _NAME + r")|'([^'\\]*)'|\"([^\"\\]*)\")\s*\Z")


def _fail(msg):
    raise SystemExit("render_jinja.py: " + msg)


def _parse(tokens, pos, stop_at_endfor):
    """Parse tokens[pos:] into a node list; returns (nodes, next_pos)."""
    nodes = []
    while pos < len(tokens):
        tok = tokens[pos]
        pos += 1
        if not tok:
            continue
        if tok == "{#" or tok.startswith(("{{-", "{%-")) or tok.endswith(("-}}", "-%}")):
            _fail(f"unsupported Jinja construct {tok[:20]!r}")
        if tok.startswith("{{"):
            m = _EXPR.match(tok)
            if not m:
                _fail(f"unsupported {{{{ ... }}}} expression {tok!r}")
            nodes.append(("var", m.group(1)))
        elif tok.startswith("{%"):
            if _ENDFOR.match(tok):
                if not stop_at_endfor:
                    _fail("{% endfor %} without {% for %}")
                return nodes, pos
            m = _FOR.match(tok)
            if m:
                items = [s.strip() for s in m.group(2).split(",") if s.strip()]
                body, pos = _parse(tokens, pos, True)
                nodes.append(("for", m.group(1), [int(i) for i in items], body))
                continue
            m = _SET.match(tok)
            if m:
                parts = []
                for item in m.group(2).split("~"):
                    im = _CONCAT_ITEM.match(item)
                    if not im:
                        _fail(f"unsupported expression in {tok!r}")
                    if im.group(1):
                        parts.append(("var", im.group(1)))
                    else:
                        parts.append(("text", im.group(2) if im.group(2) is not None else im.group(3)))
                nodes.append(("set", m.group(1), parts))
                continue
            _fail(f"unsupported Jinja tag {tok!r}")
        else:
            if "{{" in tok or "{%" in tok:
                _fail("unterminated Jinja construct")
            nodes.append(("text", tok))
    if stop_at_endfor:
        _fail("{% for %} without {% endfor %}")
    return nodes, pos


def _lookup(env, name):
    if name not in env:
        _fail(f"undefined template variable {name!r}")
    v = env[name]
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        _fail(f"variable {name!r} must be a str or int")
    return str(v)


def _eval(nodes, env, out):
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "var":
            out.append(_lookup(env, node[1]))
        elif kind == "set":
            env[node[1]] = "".join(_lookup(env, p[1]) if p[0] == "var" else p[1] for p in node[2])
        else:  # for: the loop variable is scoped to the loop body, like Jinja
            for value in node[2]:
                _eval(node[3], dict(env, **{node[1]: value}), out)


def render(src: str, env: dict) -> str:
    # jinja2.lexer: source = "\n".join(source.splitlines()) (drops one trailing newline)
    src = "\n".join(src.splitlines())
    nodes, _ = _parse(_TOKEN.split(src), 0, False)
    out = []
    _eval(nodes, dict(env), out)
    return "".join(out)


def write_if_different(path: str, text: str) -> None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    template, output = argv[0], argv[1]
    env = {}
    for kv in argv[2:]:
        k, sep, v = kv.partition("=")
        if not sep:
            _fail(f"bad argument {kv!r} (want name=value)")
        env[k] = v
    with open(template, encoding="utf-8") as f:
        text = render(f.read(), env)
    write_if_different(output, text)


if __name__ == "__main__":
    main(sys.argv[1:])
