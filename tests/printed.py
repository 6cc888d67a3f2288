"""The printed derivation (plain text, as `einderive derive` writes it) as equations by section."""

from __future__ import annotations

import re

# what ``--expand`` prints under an adjoint that has no closed form (render/text.py _OMITTED)
OMITTED = ("(no closed form", "(its closed form")


def entries(text: str, expand: bool = False, blocks: list[int] | None = None):
    """``[(section, line)]``: each printed equation, wrapped lines joined, ``where`` helpers
    as their own entries (section 'where').  With ``expand`` (the text of ``derive --expand``)
    each closed form is an entry of its own (section 'closed'), with the left side it stands
    under (``  ∂L/∂W = ∂L/∂z xᵀ`` then ``         = −2 (…) xᵀ``: ``∂L/∂W = −2 (…) xᵀ``), or the
    one it prints (an adjoint's third equation: ``∂L/∂X_b = …`` under ``∂L/∂X = …``), and
    the words saying why an adjoint has none are an entry of section 'omitted'.
    ``blocks``, when given, takes each entry's block number: the lines one set of where-clauses
    serves (an adjoint's lines up to a blank line, or up to its clauses; a forward line or a
    gradient with its clauses), so that a block is read with its own clauses alone."""
    out, section = [], None
    block, after_where = 0, False  # (a blank line or a section ends a block too)
    col = 0  # where the '=' of the last equation stands: a closed form's '=' stands there
    count = 0  # the equations of this adjoint (its lines up to a blank one)
    for raw in text.splitlines():
        if raw in ("Forward", "Backward", "Gradients"):
            section = raw
            count = 0
            block, after_where = block + 1, False
            continue
        if not raw.strip():
            count = 0
            block, after_where = block + 1, False
        if section is None or not raw.startswith("  ") or not raw.strip():
            if raw and not raw.startswith(" "):
                if raw.startswith("note:") or raw.startswith("Einstein") or \
                        not out or section is None:
                    section = section if not raw.startswith("note:") else None
            continue
        body = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if indent == 2 and (after_where or section != "Backward"):
            block, after_where = block + 1, False  # (an adjoint's lines share its clauses)
        if body.startswith("where "):
            after_where = True
            out.append(("where", body[len("where "):]))
        elif indent == 2:
            line = re.sub(r"^(\S+(?:\(\S+\))?)\s+= ", r"\1 = ", body)
            col = raw.find(" = ") + 1
            count += 1
            # the adjoint's third equation (index, matrix, then closed form): its closed form
            # where it has another left side than the matrix form's
            closed = expand and section == "Backward" and count == 3
            out.append(("closed" if closed else section, line))
        elif expand and section == "Backward" and body.startswith("= ") and indent <= col:
            lhs = out[-1][1].split(" = ", 1)[0]  # the matrix form it stands under
            out.append(("closed", f"{lhs} {body}"))
        elif expand and section == "Backward" and body.startswith(OMITTED):
            out.append(("omitted", body))
        else:  # a wrapped line continues the previous equation
            sec, line = out[-1]
            out[-1] = (sec, line + " " + body)
        if blocks is not None:
            del blocks[len(out):]
            blocks.extend([block] * (len(out) - len(blocks)))
    return out
