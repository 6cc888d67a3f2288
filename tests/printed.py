"""The printed derivation (plain text, as `einderive derive` writes it) as equations by section."""

from __future__ import annotations

import re


def entries(text: str):
    """``[(section, line)]``: each printed equation, wrapped lines joined, ``where`` helpers
    as their own entries (section 'where')."""
    out, section = [], None
    for raw in text.splitlines():
        if raw in ("Forward", "Backward", "Gradients"):
            section = raw
            continue
        if section is None or not raw.startswith("  ") or not raw.strip():
            if raw and not raw.startswith(" "):
                if raw.startswith("note:") or raw.startswith("Einstein") or \
                        not out or section is None:
                    section = section if not raw.startswith("note:") else None
            continue
        body = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if body.startswith("where "):
            out.append(("where", body[len("where "):]))
        elif indent == 2:
            out.append((section, re.sub(r"^(\S+(?:\(\S+\))?)\s+= ", r"\1 = ", body)))
        else:  # a wrapped line continues the previous equation
            sec, line = out[-1]
            out[-1] = (sec, line + " " + body)
    return out
