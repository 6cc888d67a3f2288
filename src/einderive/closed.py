"""Closed forms at the matrix level, for the adjoints whose index-form closed form is too
large to build (``reverse.EXPAND_LIMIT``): the upstream adjoints' matrix closed forms are
substituted into the chain form's matrix form and simplified, and the subexpressions that
then appear more than once are named in ``where t₁ = …`` clauses, matrixcalculus.org's way.

A GRU's ∂L/∂X repeats the candidate's pre-activation adjoint ``G ⊙ Zg ⊙ (1 − Hc ⊙ Hc)`` in two
of its three terms; written out it is too long to read, named once it fits a line.  The
derivative helpers (σ'(X Wzᵀ + Hp Uzᵀ + bzᵀ) = Zg ⊙ (1 − Zg)) are written in the forward
nodes' names, as the literature writes a gate's derivative.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence, Set as AbstractSet
from typing import Any

from . import matrix as mx
from .kinds import Omission, RefKind
from .recognize import Where, _renamed, is_temporary, transpose_deep
from .reuse import unordered
from .record import Record, replace
from .simplify import cost, rebuild

NAMED_LIMIT = 60  # cost above which a closed form, or one of its named parts, is too large
# cost above which a written-out form is neither simplified, printed nor built on (twice what
# prints: every shipped layer's named closed form comes from below it); building on larger
# ones down a chain of n layers cost n² (a deep chain's closed forms grow with its depth)
SUBSTITUTED_LIMIT = 2 * NAMED_LIMIT
SHARED_MIN = 6  # cost from which a repeated subexpression is worth a name (not 1 − Zg)
# most upstream closed forms a closed form may read as temporaries standing for them, its
# own and those they read in turn: down a chain each layer's form reads every form above
# it, and each block prints the clauses it reads, so without a cap the printed output is
# quadratic in the depth (chain of 160 layers, `derive --expand`: 23 085 lines, 71 s,
# against 2 441 lines, 2.4 s at 12).  Twelve is the least cap at which every spec shipped
# prints as with none (gru_unroll3: 14 refusals at 4, 2 at 8, 0 at 12; giou_box_loss 1 at
# 4); a chain's forms then name a constant number of clauses (220 `where` lines at any
# depth).  (The generated code assigns each clause once, render/code.py ``_bound``: it
# no longer writes a clause at each read, 2^k copies k clauses deep.)
STOOD_LIMIT = 12


class Refused(Record):
    """Why a closed form was not written out: the reason, and the upstream adjoint that
    gave it (its name; "" when the form itself is the reason)."""

    why: Omission
    of: str = ""
    via: str = ""  # the temporary it reads the adjoint inside (t1), for TEMPORARY


def substituted(m: mx.M, closed: Mapping[str, mx.M], temporaries: dict[str, mx.M],
                printed: Mapping[str, mx.M] | None = None, stood: set[str] | None = None,
                apart: bool = False) -> mx.M | Refused:
    """``m`` with each upstream adjoint ∂L/∂t written as its closed form ``closed[t]``;
    refused when one of them has none, or reads otherwise than ``m`` reads it, or when the
    result passes ``SUBSTITUTED_LIMIT``.

    A whole closed form read per element (∂L/∂O_h of ∂L/∂O = reshape(G Woᵀ, [T, H, Dh]), a
    multi-head attention's head h) stands as a temporary read at the same axes, as a
    textbook writes it: t1_h, where t1 = reshape(G Woᵀ, [T, H, Dh]).  ``temporaries`` (a
    temporary's name -> its definition, shared by the whole derivation) gives one name to
    one definition and takes the new ones.

    Written out past the limit, each upstream closed form it reads whole more than once
    stands as a temporary defined as that form printed (``printed``: its parts by the
    derivation's names), when that is short enough to print: ConvNeXt's ∂L/∂Dw = ∂L/∂M −
    (1/C) rowsum(∂L/∂M) is t3 − (1/C) rowsum(t3), where t3 = (2 t1 − …) ⊘ √t2, not "too
    large" (and the adjoints after it, which read it, have closed forms too).  The caller
    gives no form that reads such a temporary (``stood`` collects their names) in
    ``printed``: one level only, so a deep chain's closed forms do not each define every
    temporary above them (n² clauses).

    ``apart``: every upstream closed form read whole stands so, read once or more, within
    the limit or past it: the caller's second try when the form written out, its repeated
    parts named, is still too large to print (deep_residual_30's ∂L/∂c1 = (2/D) t6 ⊙ c1 +
    t7 ⊘ √(v1 + 1/10), where t6 and t7 are ∂L/∂v1's and ∂L/∂n1's closed forms); a form
    too small to be worth a name (``SHARED_MIN``) is put in as it printed (−(2/B) t7)."""
    refs = dict.fromkeys(r for r in mx.walk(m)
                         if isinstance(r, mx.Ref) and r.kind == RefKind.ADJOINT)
    table: dict[mx.M, mx.M] = {}
    for r in refs:
        form = closed.get(r.name)
        if form is None:
            return Refused(Omission.UPSTREAM_NONE, r.name)
        misread = _misread(m, r, form)
        if misread == Omission.WHOLE_FORM and _nameable(form) or \
                misread in (Omission.EACH_FORM, Omission.OTHER_AXIS) and _each_nameable(form):
            lead = tuple(range(len(r.at)))
            if r.at and r.at != lead and not isinstance(form, mx.Each) and \
                    len(r.shape) == 2 and 1 not in r.shape:
                # read at batch axes apart (∂L/∂O_bgr of ∂L/∂O: [B, T, G, R, Dh]): the form
                # permuted to lead with them, so that t1_bgr is t1[b, g, r, :, :] as the
                # note reads every subscript
                rank = len(r.at) + 2
                rest = iter(r.shape)
                full = [r.batch[r.at.index(a)] if a in r.at else next(rest)
                        for a in range(rank)]
                axes = r.at + tuple(a for a in range(rank) if a not in r.at)
                moved = tuple(full[a] for a in axes)
                name = named_temporary(mx.Permute(form, axes, moved, moved), temporaries)
                table[r] = mx.Ref(name, RefKind.TENSOR, r.shape, r.src, None, r.batch)
                continue
            name = named_temporary(form, temporaries)
            table[r] = mx.Ref(name, RefKind.TENSOR, r.shape, r.src, None, r.batch, r.at)
            continue
        if misread is not None:
            return Refused(misread, r.name)
        # an element read takes the element's form (a_b ⊙ …), not the whole Each of them
        table[r] = form.x if isinstance(form, mx.Each) and r.batch else form
    out = mx.substitute_all(m, table)
    if cost(out) <= SUBSTITUTED_LIMIT and not apart:
        return out
    trial = dict(temporaries)
    reads = Counter(r.name for r in mx.leaves(m) if r.kind == RefKind.ADJOINT)
    # read once by name and again inside another upstream closed form (∂L/∂r4 = ∂L/∂a5 W5ᵀ
    # + ∂L/∂r5, ∂L/∂a5's closed form σ(a5) ⊙ (∂L/∂r5's)): named, it is named in both
    within = {o.name: set(mx.walk(closed[o.name])) for o in refs}
    met = {r.name for r in refs for o in refs if o.name != r.name and
           closed[r.name] in within[o.name]}
    inside: dict[mx.M, mx.M] = {}
    for r in refs:
        form = (printed or {}).get(r.name)
        if form is not None and (reads[r.name] > 1 or r.name in met or apart) and \
                not r.batch and table[r] is closed[r.name] and _nameable(form) and \
                cost(form) <= NAMED_LIMIT:
            if apart and _printed_size(form) < SHARED_MIN:  # as printed: −(2/B) t7, no t10
                table[r] = form
                continue
            table[r] = mx.Ref(named_temporary(form, trial), RefKind.TENSOR, r.shape, r.src)
            inside[closed[r.name]] = table[r]
    out = mx.substitute_all(mx.substitute_all(m, table), inside)
    if cost(out) > SUBSTITUTED_LIMIT:
        return Refused(Omission.TOO_LARGE)
    if stood is not None:
        stood.update(k for k in trial if k not in temporaries)
    temporaries.update(trial)
    return out


def _nameable(form: mx.M) -> bool:
    """Whether a whole closed form can be named as a temporary read per element: one of the
    whole tensor (no ``Each``; a batched leaf only as the whole argument of an op on a
    tensor's numbered axes, reshape(t2, [HT, T])), no einsum (no matrix form to name)."""
    def whole(m: mx.M) -> bool:
        if isinstance(m, (mx.Each, mx.Einsum)) or isinstance(m, mx.Ref) and m.batch:
            return False
        return all(whole(c) or isinstance(m, _SPEC_AXES) and _read_whole(c)
                   for c in m.children())
    return whole(form)


def _read_whole(m: mx.M) -> bool:
    """A batched tensor read whole, in its spec shape (its batch axes leading, at no other
    axes): the argument of reshape(t2, [HT, T]); or a form of such tensors in NumPy's
    reading, every one at the same leading batch (reshape((2/(B D T)) Y Woᵀ, [B, T, H, Dh])
    of Y: [B, T, D]), which the whole tensor's op reads whole."""
    if isinstance(m, mx.Ref):
        return bool(m.batch) and not m.at and not m.missing
    batch = mx.batch_of(m)
    return bool(batch) and set(batch) != {1} and all(
        not isinstance(n, (mx.Each, mx.Einsum, mx.BatchSum, mx.Permute)) and
        not mx.whole_batched(n) and
        (not isinstance(n, mx.Ref) or not n.batch or n.batch == batch and not n.at and
         not n.missing) for n in mx.walk(m))


def _each_nameable(form: mx.M) -> bool:
    """Whether a closed form written per element can be named as a temporary read as the
    adjoint is read elsewhere: whole (∂L/∂Xv = reshape(t2, [T, D]) of ∂L/∂V_h = A_hᵀ t1_h,
    a multi-head attention's heads on the middle axis, where t2_h = A_hᵀ t1_h), or per
    element of another axis.  A temporary holds the whole tensor in its spec shape, each
    element where the form puts it, so every reading of it reads what the adjoint's did;
    its where-clause is written per element, as the form is."""
    return isinstance(form, mx.Each) and not any(isinstance(n, mx.Einsum)
                                                 for n in mx.walk(form))


def named_temporary(form: mx.M, temporaries: dict[str, mx.M]) -> str:
    """The temporary's name of ``form``: the one it has, or the next tN no other name takes."""
    same = next((n for n, d in temporaries.items() if d == form), None)
    if same is not None:
        return same
    k = 1
    while f"t{k}" in temporaries:
        k += 1
    temporaries[f"t{k}"] = form
    return f"t{k}"


def defined_temporaries(forms: Sequence[mx.M], temporaries: Mapping[str, mx.M],
                        given: Sequence[Where]) -> tuple[Where, ...]:
    """The where-clauses of the derivation's temporaries (those :func:`substituted` named,
    and those the upstream closed forms read) that ``forms`` read (and ``given`` does not
    define already), in the order they are first read."""
    have = {w.lhs.name for w in given if isinstance(w.lhs, mx.Ref)}
    out: list[Where] = []

    def visit(m: mx.M) -> None:
        for r in mx.leaves(m):
            d = temporaries.get(r.name)
            if d is None or isinstance(d, mx.Ref) and d.name == r.name:
                continue  # a tensor's or a dim's name, held so that no temporary takes it
            if r.name not in have and r.kind == RefKind.TENSOR:
                have.add(r.name)
                if isinstance(d, mx.Each):  # defined per element: t2_h = A_hᵀ t1_h
                    r = mx.Ref(r.name, RefKind.TENSOR, d.x.shape, r.src, None, d.dims, d.at)
                out.append(Where(r, d))  # else defined as it is read: t1_h, printed t1
                visit(d)  # and the temporaries its definition reads (t1 in t2_h's)
    for m in forms:
        visit(m)
    return tuple(out)


def definitions(m: mx.M, wheres: Sequence[Where]) -> dict[mx.M, mx.M]:
    """What each where-name the form ``m`` (or a clause) reads stands for, for code that
    computes it: a clause's left side its right side; and a temporary defined per element
    (t2_h = A_hᵀ t1_h, an ``Each``) read otherwise than as its left side, whole
    (reshape(t2, [T, D])) or at other axes, the whole tensor of its elements (the Each),
    which every reading of it reads right (:func:`defined_temporaries`)."""
    out = {w.lhs: w.rhs for w in wheres}
    each = {r.name: d for r, d in out.items() if isinstance(d, mx.Each) and isinstance(r, mx.Ref)}
    if each:
        reads = [x for y in (m, *out.values()) for x in mx.leaves(y)]
        out.update({x: each[x.name] for x in reads if x.name in each})
    return out


# nodes that name axes of a whole tensor's spec shape (axis=1 of [B, C, T])
_SPEC_AXES = (mx.Slice, mx.Pad, mx.Take, mx.SumAxes, mx.Permute, mx.Stack, mx.Reshape)


def _misread(m: mx.M, r: mx.Ref, form: mx.M) -> Omission | None:
    """Why ``form``, the closed form of the adjoint ``r`` reads in ``m``, cannot stand where
    ``r`` stands, read as ``r`` is read there (None: it can).

    A whole adjoint (no ``r.batch``) takes any form but one written per element under
    NumPy's sum over axes of a whole tensor of three or more axes (sum(·, axis=2,
    keepdims=True)): the sum around it would mean another thing; nor an ``Each`` inside
    another form, whose subscripts nothing there binds.  An element (∂L/∂H_e,
    ``r.batch`` on the axes ``r.at``) takes only a form written per element of the same
    axes: a mixture of experts reads ∂L/∂H [B, E, O] per expert e (axis 1) while its form
    is per sample b (axis 0); put in place, the sample's matrices stood for the expert's (a
    wrong closed form, evaluated by broadcasting when B = E).  Nor does it take a whole
    tensor of three or more axes (NumPy's reading, or an ``Each``, whose element form is
    not the node itself): where ∂L/∂mu_b 𝟏ᵀ stood, the product around it would read it
    whole.  :func:`substituted` names such a form as a temporary where it can (one name
    for the whole tensor reads right at any axes)."""
    def whole(x: mx.M) -> bool:
        return not mx.batch_of(x) and len(x.shape) >= 3
    if not r.batch:
        if whole(r) and mx.batch_of(form) and any(isinstance(n, mx.SumAxes) for n in mx.walk(m)):
            return Omission.ELEMENT_FORM
        if isinstance(form, mx.Each) and m != r:
            # written per element, it stood in a whole form with its subscripts bound by
            # nothing: (𝟙[conv1d(X, W, b) > 0] ⊙ ((2/To) V (Vᵀ p_j − Tg_j) 𝟏ᵀ)) ∗ W
            return Omission.EACH_FORM
        return None
    holders = [n for n in mx.walk(m) if r in n.children()]
    if holders and all(mx.whole_batched(n) for n in holders):
        # read whole, as NumPy reads the tensor a slice, pad or reshape of the batch's
        # axes takes (pad(∂L/∂H, 1:T − 1, axis=1) Wᵀ): any form of the whole tensor
        return Omission.EACH_FORM if isinstance(form, mx.Each) else None
    at = r.at or tuple(range(len(r.batch)))
    subscripted = any(isinstance(n, (mx.BatchSum, mx.Each)) and r in mx.walk(n)
                      for n in mx.walk(m))
    if any(isinstance(n, _SPEC_AXES) and len(n.shape) >= 3 or
           subscripted and mx.whole_batched(n) for n in mx.walk(form)):
        # an op on a whole tensor's numbered axes inside: pad(G ⊙ σ(slice(Y, :, O:O2)), 0:O,
        # axis=1) put where ∂L/∂Y_i stood printed G_i beside the whole Y, and its axis=1 read
        # as one element's columns (named whole as a temporary, when it is one, it stands)
        return Omission.WHOLE_FORM
    if isinstance(form, mx.Each):
        if form.dims != r.batch or form.at != at:
            return Omission.OTHER_AXIS
        return Omission.EACH_FORM if whole(form) else None
    if whole(form):
        return Omission.WHOLE_FORM
    leaves = [x for x in mx.walk(form) if isinstance(x, mx.Ref) and x.batch]
    if not leaves:
        return Omission.WHOLE_FORM
    if any(x.batch != r.batch or (x.at or at) != at for x in leaves):
        return Omission.OTHER_AXIS
    return None


def in_node_names(m: mx.M, wheres: Sequence[Where]) -> mx.M:
    """``m`` with each derivative helper written as its definition in the forward nodes
    (σ'(u) as ``y ⊙ (1 − y)``): a closed form reads in names the forward pass printed."""
    for w in wheres:
        if not is_temporary(w):  # t1 = conv1d(X, W, b) stays named: t1_i is an element of it
            m = mx.substitute(m, w.lhs, w.rhs)
    return m


def named_parts(m: mx.M, taken: AbstractSet[str], worth: Callable[[mx.M], bool] | None = None,
                limit: bool = True) -> tuple[mx.M, tuple[Where, ...]] | None:
    """``m`` with its repeated subexpressions named ``t1``, ``t2``, … (the largest first, so a
    name never hides inside another; numbered in the order the form is read), and their
    definitions; None if the form or a definition is still too large to print.

    A part and its transpose are one part: named once, its transpose printed ``t1ᵀ`` (a
    clause ``where t3 = t2ᵀ`` names nothing new).  ``worth`` keeps only the parts it holds
    worth a name; with no ``limit`` no size is too large (a chain form, printed anyway)."""
    defs: list[tuple[mx.Ref, mx.M]] = []
    while True:
        shared = _largest_shared([m, *(d for _, d in defs)], worth)
        if shared is None:
            break
        # a name no earlier part took either: _fresh skips the taken names from its start,
        # and two parts of one shape named alike were one Ref (t4 = t4 ⊙ (1 − h2 ⊙ h2));
        # a part of a batched form is a batch element as its leaves are (Σ_b … t1_b …,
        # where t1_b = A_b V_b V_bᵀ: a bare t1 read the same matrix for every b)
        ref = mx.Ref(_fresh(taken, len(defs), {r.name for r, _ in defs}), RefKind.TENSOR,
                     shared.shape, batch=mx.batch_of(shared))
        # and wherever it is met with the terms of a sum in another order (t-SNE's
        # 1 + sq + sqᵀ − 2 Y Yᵀ read at (j, i) as 1 + sqᵀ + sq − 2 Y Yᵀ)
        memo: dict[mx.M, mx.M] = {}
        key, turned = unordered(shared, memo), unordered(mx.transpose(shared), memo)
        table: dict[mx.M, mx.M] = {
            n: ref if unordered(n, memo) == key else mx.transpose(ref)
            for x in (m, *(d for _, d in defs)) for n in mx.walk(x)
            if unordered(n, memo) in (key, turned)}
        if isinstance(shared, mx.Add):  # (its transpose carried to its leaves and grouped
            # otherwise too: Xᵀ − (W Wᵀ) Xᵀ is t1ᵀ of t1 = X − X W Wᵀ)
            deep = _reassociated(transpose_deep(shared))
            table.update({n: mx.transpose(ref) for x in (m, *(d for _, d in defs))
                          for n in mx.walk(x)
                          if isinstance(n, mx.Add) and n not in table and
                          _reassociated(n) == deep})
        table.update({shared: ref, mx.transpose(shared): mx.transpose(ref)})
        if isinstance(shared, mx.Add):  # and met as some terms of a longer sum
            table.update(_within_sums(shared, ref, (m, *(d for _, d in defs)), memo, table))
        m = mx.substitute_all(m, table)
        defs = [(r, mx.substitute_all(d, table)) for r, d in defs] + [(ref, shared)]
    if limit and (cost(m) > NAMED_LIMIT or any(cost(d) > NAMED_LIMIT for _, d in defs)):
        return None
    return _numbered(m, defs, taken)


def _within_sums(shared: mx.Add, ref: mx.Ref, forms: Sequence[mx.M],
                 memo: dict[mx.M, mx.M], table: Mapping[mx.M, mx.M]) -> dict[mx.M, mx.M]:
    """Each longer sum among ``forms`` holding the terms of the named sum ``shared`` (in any
    order) with the others, the named part in their place (the others as ``table`` names
    them): Sammon's ∂L/∂Y read 1 ⊘ Dt − 1 ⊘ Dy + t2ᵀ where t2 = 1 ⊘ Dt − 1 ⊘ Dy (t2 +
    t2ᵀ)."""
    want = Counter(unordered(t, memo) for t in shared.terms)
    out: dict[mx.M, mx.M] = {}
    for x in forms:
        for n in mx.walk(x):
            if not isinstance(n, mx.Add) or len(n.terms) <= len(shared.terms) or n in out:
                continue
            keys = [unordered(t, memo) for t in n.terms]
            if Counter(keys) & want != want:
                continue
            left, rest = Counter(want), []
            for t, k in zip(n.terms, keys):
                if left[k]:
                    left[k] -= 1
                else:
                    rest.append(t)
            out[n] = mx.add(ref, *(mx.substitute_all(t, table) for t in rest))
    return out


def throughout(m: mx.M, parts: Sequence[Where], temporaries: dict[str, mx.M]
               ) -> tuple[mx.M, tuple[Where, ...]]:
    """``m`` and its named ``parts`` (:func:`named_parts`, numbered for this form alone)
    renamed to the derivation's names, which ``temporaries`` (a name -> its definition)
    holds and takes the new ones: one name means one thing in every block.  A part whose
    meaning an earlier name has (one repeated part in two closed forms) takes that name
    and that name's definition; meanings are compared with every name written out
    (:func:`_canonical`), so ``1 ⊘ √(…)`` is the earlier ``t2 = 1 ⊘ t1, t1 = √(…)``
    (prenorm_residual_stack3's ∂L/∂A3 named it t4 beside that t2).  A new part takes the
    next tN no name takes, each after the parts its definition reads (t1 = √(…), t2 = 1 ⊘
    t1), in the order the form reads them.  A one-line batched attention's ∂L/∂X defines
    t1 = t2 ⊙ (…) and t2 = softmax(…): its ∂L/∂Wq reads t2_b, each element of that t2,
    where it said t1_b = softmax(…) before.  A part read only inside a part that took an
    earlier name is read nowhere then, and named nowhere.
    Every part read keeps its clause, and a part that took an earlier name brings the
    clauses of the earlier names that name's definition reads, through every level (a
    block defines each name it reads: nested sigmoids' ∂L/∂b took ∂L/∂A's t3 = σ'(A t2 +
    b), and printed no t2); the names the form itself reads otherwise are the caller's
    (:func:`defined_temporaries`)."""
    local = {w.lhs.name: w for w in parts if isinstance(w.lhs, mx.Ref)}
    if not local:
        return m, tuple(parts)
    final: dict[str, str] = {}  # a part's local name -> its name in the derivation
    earlier_defs = {k: d for k, d in temporaries.items()
                    if not (isinstance(d, mx.Ref) and d.name == k)}  # (a held tensor's name)
    memo: dict[str, mx.M] = {}
    earlier = {_canonical(d, earlier_defs, memo): k for k, d in reversed(earlier_defs.items())}
    every = {**earlier_defs, **{n: w.rhs for n, w in local.items()}}
    for name in local:
        same = earlier.get(_canonical(local[name].rhs, every, memo))
        if same is not None:
            final[name] = same
    new: list[str] = []  # the parts read, named anew: each after the parts it reads
    read: list[str] = []

    def reach(x: mx.M) -> None:
        for r in dict.fromkeys(mx.leaves(x)):
            if r.name in local and r.name not in read:
                read.append(r.name)
                if r.name not in final:
                    reach(local[r.name].rhs)
                    new.append(r.name)
    reach(m)
    for name in new:
        k = 1
        while f"t{k}" in temporaries:
            k += 1
        final[name] = f"t{k}"
        temporaries[f"t{k}"] = local[name].rhs  # (renamed below)
    out = []
    for name in read:
        w = local[name]
        if name in new:
            rhs = _renamed(w.rhs, final)
            temporaries[final[name]] = rhs
        else:
            rhs = earlier_defs[final[name]]
        out.append(Where(_renamed(w.lhs, final), rhs))
    taken_earlier = [w.rhs for name, w in zip(read, out) if name not in new]
    out += defined_temporaries(taken_earlier, temporaries, out)
    wheres = in_order(tuple(out)) + tuple(w for w in parts if not isinstance(w.lhs, mx.Ref))
    return _renamed(m, final), wheres


def _canonical(x: mx.M, defs: Mapping[str, mx.M], memo: dict[str, mx.M]) -> mx.M:
    """``x`` with each name ``defs`` defines written out, through every level (t2 = 1 ⊘ t1,
    t1 = √(…): 1 ⊘ √(…)), rebuilt by the smart constructors: two definitions of one meaning
    built as different trees compare equal.  A name read otherwise than as its definition
    stands (an element t1_b of another batch, a definition per element): kept as it is."""
    table: dict[mx.M, mx.M] = {}
    for r in dict.fromkeys(mx.leaves(x)):
        d = defs.get(r.name)
        if d is None or isinstance(d, mx.Each) or isinstance(d, mx.Ref) and d.name == r.name \
                or r.at or r.missing or r.shape != d.shape or r.batch != mx.batch_of(d):
            continue
        if r.name not in memo:
            memo[r.name] = r  # (a name whose definition reads it stands for itself)
            memo[r.name] = _canonical(d, defs, memo)
        table[r] = memo[r.name]
    return mx.substitute_all(x, table)


def in_order(wheres: Sequence[Where]) -> tuple[Where, ...]:
    """``wheres`` as a reader reads them: each temporary's clause after the clauses its right
    side reads, and otherwise by number (t1 before t2, t2 before t10), so a block printed
    ``t2 = relu(t1) ⊙ …`` before ``t1 = 1 + S − sy`` reads t1, t2.  The clauses that define
    no temporary (a derivative helper's, σ'(u) = y ⊙ (1 − y)) keep their places; the
    temporaries' clauses are put in order in theirs."""
    temps = [w for w in wheres if isinstance(w.lhs, mx.Ref)]
    if len(temps) < 2:
        return tuple(wheres)
    names = {w.lhs.name for w in temps if isinstance(w.lhs, mx.Ref)}
    reads = {id(w): {r.name for r in mx.leaves(w.rhs)} & names - {_name(w)} for w in temps}
    done: set[str] = set()
    ordered: list[Where] = []
    rest = sorted(temps, key=_number)
    while rest:
        # the first by number whose reads are all defined; a cycle (none such): by number
        w = next((w for w in rest if reads[id(w)] <= done), rest[0])
        rest.remove(w)
        ordered.append(w)
        done.add(_name(w))
    it = iter(ordered)
    return tuple(next(it) if isinstance(w.lhs, mx.Ref) else w for w in wheres)


def names_reused(m: mx.M, wheres: Sequence[Where], others: Mapping[str, mx.M] | None = None
                 ) -> tuple[mx.M, tuple[Where, ...]]:
    """``m`` and its where-clauses with each temporary's definition met whole in another
    clause (or in ``m``) read by its name: neural_ode_euler3's ∂L/∂W printed ``t1 = (1 −
    tanh(h2 W + bᵀ)^∘2) ⊙ (h3 − Y)`` and then ``t3 = (1/5) ((1 − tanh(h2 W + bᵀ)^∘2) ⊙ (h3 −
    Y)) Wᵀ + …``, t1 written out (t3 came from the index form's closed form, named apart);
    now ``t3 = (1/5) t1 Wᵀ + …``.  A clause is never read in one its own definition is read
    by (no cycle), nor in a clause that is the same definition; a definition per element
    (t2_h = A_hᵀ t1_h) stands as it is.  Small definitions (``SHARED_MIN``) are not worth
    it.  The meaning of every name is unchanged: only what prints is shorter."""
    temps = [w for w in wheres if is_temporary(w) and isinstance(w.lhs, mx.Ref)
             and not w.lhs.at and not w.lhs.missing and not isinstance(w.rhs, mx.Each)
             and _printed_size(w.rhs) >= SHARED_MIN]
    if not temps:
        return _earlier_reused(m, tuple(wheres), others or {})
    names = {w.lhs.name for w in wheres if isinstance(w.lhs, mx.Ref)}
    direct = {w.lhs.name: {r.name for r in mx.leaves(w.rhs)} & names
              for w in wheres if isinstance(w.lhs, mx.Ref)}

    def reached(name: str) -> set[str]:  # every name its definition reads, through them all
        seen: set[str] = set()
        todo = [name]
        while todo:
            for n in direct.get(todo.pop(), ()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen
    under = {_name(w): reached(_name(w)) for w in temps}

    def table(of: str | None, whole: mx.M | None) -> dict[mx.M, mx.M]:
        out: dict[mx.M, mx.M] = {}
        for w in temps:
            if _name(w) == of or of is not None and of in under[_name(w)] or w.rhs == whole:
                continue
            out.setdefault(w.rhs, w.lhs)
            if w.rhs.shape != () and len(w.rhs.shape) == 2:
                out.setdefault(mx.transpose(w.rhs), mx.transpose(w.lhs))
        return out
    out = []
    for w in wheres:
        if is_temporary(w) and isinstance(w.lhs, mx.Ref) and not w.lhs.at \
                and not isinstance(w.rhs, mx.Each):
            t = table(w.lhs.name, w.rhs)
            if t:
                w = Where(w.lhs, mx.substitute_all(w.rhs, t))
        out.append(w)
    whole = table(None, m)
    m = mx.substitute_all(m, whole) if whole else m
    return _earlier_reused(*_small_inlined(m, tuple(out)), others or {})


def _small_inlined(m: mx.M, wheres: tuple[Where, ...]) -> tuple[mx.M, tuple[Where, ...]]:
    """``m`` and ``wheres`` with a clause too small to be worth its name (``SHARED_MIN``)
    that reads another of them written where it is read: deep_residual_30's ∂L/∂r1 stood
    ∂L/∂o3's closed form as t10, which the block's t7 made t10 = −(2/B) t7 (now t8 W2ᵀ + t9
    − (2/B) t7 ⊙ o2).  Only one read once, whole (not t1_b, an element)."""
    names = {w.lhs.name for w in wheres if isinstance(w.lhs, mx.Ref)}
    for w in wheres:
        if not (is_temporary(w) and isinstance(w.lhs, mx.Ref)) or isinstance(w.rhs, mx.Each) \
                or _printed_size(w.rhs) >= SHARED_MIN or \
                not any(r.name in names and r.name != w.lhs.name for r in mx.leaves(w.rhs)):
            continue
        lhs = w.lhs
        if lhs.batch or lhs.at or lhs.missing or mx.batch_of(w.rhs) or any(
                isinstance(n, (*_SPEC_AXES, mx.Each)) for n in mx.walk(w.rhs)):
            continue  # (a view stays named: t12 = reshape(permute(t11, …), [B, T, D]))
        read = [r for x in (m, *(v.rhs for v in wheres)) for r in mx.leaves(x)
                if r.name == lhs.name]
        if len(read) != 1 or read[0] != lhs:
            continue  # (read twice it stays named: maxpool_minpool's t2 = wᵀ − t1)
        table: dict[mx.M, mx.M] = {lhs: w.rhs}
        if len(lhs.shape) == 2:
            table[mx.transpose(lhs)] = mx.transpose(w.rhs)
        m = mx.substitute_all(m, table)
        wheres = tuple(Where(v.lhs, mx.substitute_all(v.rhs, table)) for v in wheres
                       if v is not w)
        return _small_inlined(m, wheres)
    return m, wheres


def _earlier_reused(m: mx.M, wheres: tuple[Where, ...], others: Mapping[str, mx.M]
                    ) -> tuple[mx.M, tuple[Where, ...]]:
    """``m`` with a temporary an earlier block defined (``others``: the derivation's names)
    read by its name where its definition, read in this block's names, is met whole:
    neural_ode_euler3's ∂L/∂W wrote ((1/5) t1 + (1/10) t4) Wᵀ + 2 h3 − 2 Y, which is
    ∂L/∂h0's t2 (∂L/∂h1's closed form) read through t3 and t4: it says t2 now, defined
    there as it reads here, and the block numbers t1 … t4 with none dropped.  Met twice in
    the clauses, it is read by name there too (prenorm_transformer_block's t7 =
    reshape(…, [B, T, H, Dh]) spelt ∂L/∂O's closed form, its t5 twice and t6 thrice)."""
    names = {w.lhs.name for w in wheres if isinstance(w.lhs, mx.Ref)}
    if not any(is_temporary(w) for w in wheres):
        return m, wheres
    mine = [w for w in in_order(wheres) if is_temporary(w) and isinstance(w.lhs, mx.Ref)
            and not w.lhs.at and not w.lhs.missing and not isinstance(w.rhs, mx.Each)]
    # met once only inside a clause, it stays written out there: gru_cell's t2 = (G ⊙ Zg ⊙
    # (1 − Hc ⊙ Hc)) Uh, not t1 Uh beside a clause t1 read nowhere else
    def counted() -> tuple[set[mx.M], Counter[mx.M]]:
        return set(mx.walk(m)), Counter(n for w in wheres for n in mx.walk(w.rhs))
    met, inside = counted()
    added: list[Where] = []
    for name in sorted((n for n in others if n not in names), key=lambda n: _number(
            Where(mx.Ref(n, RefKind.TENSOR, ()), mx.Const(0)))):
        d = others[name]
        if isinstance(d, mx.Each) or not _defines(d, name):
            continue
        within = set(mx.walk(d))
        for w in mine:  # in this block's names, each after those it reads
            if w.rhs in within or d is not others[name]:
                d = mx.substitute_all(d, {w.rhs: w.lhs})
        # (a batch's part met in the form, Σ_b X_bᵀ t2_b …, stays as the blocks before
        # say it: inline_batched_attention's t1_b ⊙ (Y_b − rowsum(Y_b ⊙ t1_b)))
        if (d not in met or mx.batch_of(d)) and inside[d] < 2 or any(
                r.name not in names and _defines(others.get(r.name), r.name)
                for r in mx.leaves(d)) or _printed_size(d) < SHARED_MIN:
            continue  # (met, and not one defined in no clause here, nor too small)
        ref = mx.Ref(name, RefKind.TENSOR, d.shape, batch=mx.batch_of(d))
        m = mx.substitute_all(m, {d: ref})
        wheres = tuple(Where(w.lhs, mx.substitute_all(w.rhs, {d: ref})) for w in wheres)
        added.append(Where(ref, d))
        names.add(name)
        met, inside = counted()
    return m, wheres + tuple(added)


def _defines(d: mx.M | None, name: str) -> bool:
    """Whether ``d``, the derivation's entry for ``name``, defines a temporary (not a held
    tensor's or dim's name, which stands for itself)."""
    return d is not None and not (isinstance(d, mx.Ref) and d.name == name)


def _name(w: Where) -> str:
    assert isinstance(w.lhs, mx.Ref)
    return w.lhs.name


def _number(w: Where) -> tuple[int, str]:
    """A temporary's number, then its name (t2 before t10; another name after every tN)."""
    name = _name(w)
    digits = name[1:] if name[:1] == "t" else ""
    return (int(digits), name) if digits.isdigit() else (1 << 30, name)


def _largest_shared(forms: list[mx.M], worth: Callable[[mx.M], bool] | None = None
                    ) -> mx.M | None:
    """The costliest subexpression met at least twice in ``forms`` (the form and the
    definitions so far), the first met on a tie; of one met as ``xᵀ``, its ``x`` (whose
    name then stands for both, ``t1ᵀ`` for ``xᵀ``)."""
    seen: dict[mx.M, int] = {}  # by the node with its sums' terms in one order
    first: dict[mx.M, mx.M] = {}
    memo: dict[mx.M, mx.M] = {}
    grouped: dict[mx.M, mx.M] = {}  # each sum's key by its transpose carried to its leaves
    for node in (n for m in forms for n in mx.walk(m)):
        if _printed_size(node):
            key = unordered(node, memo)
            if isinstance(node, mx.Add) and len(node.shape) == 2 and 1 not in node.shape:
                # a sum met with its transpose carried to its leaves (X − X W Wᵀ beside
                # Xᵀ − W Wᵀ Xᵀ in a one-line autoencoder's ∂L/∂W) is one part, named once,
                # as the one with fewer transposes
                turned = grouped.get(_reassociated(transpose_deep(node)))
                if key not in seen and turned is not None:
                    key = turned
                    if mx.transposes(node) < mx.transposes(first[key]):
                        first[key] = node
                grouped.setdefault(_reassociated(node), key)
            seen[key] = seen.get(key, 0) + 1
            first.setdefault(key, node)
    # a sum met whole inside a term of a longer sum that holds its terms too is met twice
    # (named once, _within_sums: 2 (t1 − t1 W Wᵀ) of a one-line autoencoder's 2 (X − X W
    # Wᵀ − (X − X W Wᵀ) W Wᵀ), not t1 = −X W Wᵀ)
    counts = _term_counts(list(dict.fromkeys(n for m in forms for n in mx.walk(m)
                                             if isinstance(n, mx.Add))), memo)
    for key, node in first.items():
        if seen[key] == 1 and isinstance(node, mx.Add) and _within_another(node, counts, memo):
            seen[key] += 1
    # (a reciprocal 1 ⊘ x of a part x worth a name names x: read ⊘ t1, as a textbook
    # divides by σ = √(var + ε), not t1 ⊙ … with t1 = 1 ⊘ √(…))
    shared = [_divided(_untransposed(first[n])) for n, k in seen.items() if k > 1]
    # (never a trace's diagonal: tr(t1) of t1 = A X Xᵀ, not sum(t1) of diagonal(A X Xᵀ))
    shared = [n for n in shared if _printed_size(n) >= SHARED_MIN and n.shape != () and
              not isinstance(n, mx.Diagonal) and (worth is None or worth(n))]
    return max(shared, key=_printed_size, default=None)  # the first of equal sizes


def _divided(m: mx.M) -> mx.M:
    """``x`` for a divisor ``1 ⊘ x`` (``x^-k``) whose ``x`` is worth a name, else ``m``."""
    if isinstance(m, mx.Pow) and m.exp < 0 and _printed_size(m.x) >= SHARED_MIN:
        return _untransposed(m.x)
    return m


def _untransposed(m: mx.M) -> mx.M:
    return m.x if isinstance(m, mx.Transpose) else m


def _printed_size(m: mx.M) -> int:
    """The cost of what ``m`` prints: an anonymous intermediate (the ``(1/√D) Q Kᵀ`` in a
    one-line attention's ``softmax((1/√D) Q Kᵀ)``) prints as its definition; a leaf that
    prints as a name is worth no name (0)."""
    if isinstance(m, (mx.Const, mx.Ones, mx.Eye, mx.OneHot)):
        return 0
    if isinstance(m, mx.Ref) and (m.kind != RefKind.ANON or m.display is None):
        return 0
    for r in dict.fromkeys(mx.leaves(m)):
        if r.kind == RefKind.ANON and r.display is not None:
            m = mx.substitute(m, r, r.display)
    return cost(m)


def _fresh(taken: AbstractSet[str], n: int, also: AbstractSet[str] = frozenset()) -> str:
    """The first of t(n+1), t(n+2), … in neither ``taken`` nor ``also`` (``taken`` may be
    every name of the graph: looked up, never copied)."""
    k = n + 1
    while f"t{k}" in taken or f"t{k}" in also:
        k += 1
    return f"t{k}"


def _numbered(m: mx.M, defs: list[tuple[mx.Ref, mx.M]], taken: AbstractSet[str]
              ) -> tuple[mx.M, tuple[Where, ...]]:
    """The definitions renamed ``t1``, ``t2``, … in the order a reader meets them defined:
    each after the names its definition reads (t1 = √(…), t2 = 1 ⊘ t1), the form's in the
    order it reads them, as ``where`` clauses in that order (numbers ascending, each clause
    after the clauses it reads)."""
    by_ref = dict(defs)
    order: list[mx.Ref] = []
    seen: set[mx.Ref] = set()

    def visit(x: mx.M) -> None:
        for node in mx.walk(x):
            if isinstance(node, mx.Ref) and node in by_ref and node not in seen:
                seen.add(node)
                visit(by_ref[node])
                order.append(node)
    visit(m)
    temp = [replace(r, name=f"__t{k}") for k, r in enumerate(order)]
    final: list[mx.Ref] = []
    used: set[str] = set()
    for r in order:
        name = _fresh(taken, 0, used)
        used.add(name)
        final.append(replace(r, name=name))

    def rename(x: mx.M, to: Sequence[mx.Ref], frm: Sequence[mx.Ref]) -> mx.M:
        for a, b in zip(frm, to):
            x = mx.substitute(x, a, b)
        return x
    # through unique temporaries: t2 → t1 while t1 → t2 would otherwise collide
    wheres = [Where(f, rename(rename(by_ref[r], temp, order), final, temp))
              for r, f in zip(order, final)]
    return rename(rename(m, temp, order), final, temp), tuple(wheres)


def writes_inline(m: mx.M) -> bool:
    """Whether ``m`` writes out a forward intermediate the spec leaves unnamed."""
    return any(r.kind == RefKind.ANON and r.display is not None for r in mx.leaves(m))


def inline_parts(m: mx.M, taken: AbstractSet[str]) -> tuple[mx.M, tuple[Where, ...]] | None:
    """``m`` (a chain form) with each part it repeats that writes out a forward intermediate
    the spec leaves unnamed (set_transformer_pma's softmax((1/√D) Sd Wkᵀ Xᵀ), three times in
    ∂L/∂X) named, as its closed form names it, when the form and its clauses print shorter;
    None when there is none.  Only those: the spec's own names already say the rest.
    A chain form that reads no adjoint is its own closed form (none is printed beside it):
    every part it repeats is named, as a closed form's are (a one-line layer norm's ∂L/∂X,
    X − (1/D) rowsum(X) four times, reads t1)."""
    closed = not any(isinstance(r, mx.Ref) and r.kind == RefKind.ADJOINT for r in mx.leaves(m))
    if not closed and not writes_inline(m):
        return None  # (most forms: no walk for parts)
    parts = named_parts(m, taken, None if closed else writes_inline, limit=False)
    if parts is None or not parts[1]:
        return None
    named, wheres = parts
    if _printed_size(named) + sum(_printed_size(w.rhs) for w in wheres) >= _printed_size(m):
        return None
    return parts


def views_merged(m: mx.M, wheres: Sequence[Where]) -> tuple[mx.M, tuple[Where, ...]]:
    """``m`` with the terms of a sum that read one view (reshape, permute) of several
    tensors through temporaries read nowhere else written as one temporary of that view of
    their sum: a pixel shuffle's ∂L/∂H = 2 (t2 − t1), where t1 = reshape(permute(reshape(Y,
    …))) and t2 the same of P, is 2 t1, where t1 = reshape(permute(reshape(P − Y, …))): a
    view is linear.  The merged temporary keeps the first name of those it merges."""
    if any(isinstance(n, mx.Each) for n in mx.walk(m)):
        return m, tuple(wheres)  # (a form per element: its derivative helpers read per
        # element, σ(z_h), print otherwise once a view of it is merged)
    views: dict[mx.Ref, tuple[mx.M, mx.M]] = {}  # a temporary -> (its view's skeleton, leaf)
    for w in wheres:
        if isinstance(w.lhs, mx.Ref) and not w.lhs.missing:
            x, layers = w.rhs, 0
            while isinstance(x, (mx.Reshape, mx.Permute)):
                x, layers = x.x, layers + 1
            if layers and isinstance(x, mx.Ref) and not x.batch:
                hole = mx.Ref("·view", RefKind.ANON, x.shape)
                views[w.lhs] = (mx.substitute(w.rhs, x, hole), x)
    if len(views) < 2:
        return m, tuple(wheres)
    reads = Counter(r for x in (m, *(w.rhs for w in wheres)) for r in mx.leaves(x)
                    if r in views)
    whole = _elementwise_views(m, wheres, views, reads)
    if whole is not None:
        return whole
    table: dict[mx.M, mx.M] = {}
    merged: dict[mx.Ref, mx.M] = {}
    for n in mx.walk(m):
        if not isinstance(n, mx.Add) or n in table:
            continue
        groups: dict[tuple[Any, ...], list[tuple[int, mx.M, mx.Ref]]] = {}
        for k, t in enumerate(n.terms):
            c, body = (t.coeff, t.x) if isinstance(t, mx.Scale) else (mx.Const(1), t)
            if isinstance(body, mx.Ref) and body in views and reads[body] == 1 and \
                    not body.at:  # (read whole: not gqa's t4_bgr, its batch axes apart)
                # (read alike: t1_b with t2_b, a whole t1 with a whole t2)
                key = (views[body][0], body.batch, body.at, body.shape)
                groups.setdefault(key, []).append((k, c, body))
        groups = {v: g for v, g in groups.items() if len(g) > 1}
        if not groups:
            continue
        terms: list[mx.M] = []
        for k, t in enumerate(n.terms):
            g = next((g for g in groups.values() if g[0][0] == k), None)
            if g is not None:
                # the first name of them (t1 of t2 − t1: no t2 printed where no t1 is)
                ref = min((r for _, _, r in g), key=lambda r: (len(r.name), r.name))
                inner = mx.add(*(mx.scale(c, views[r][1]) for _, c, r in g))
                merged[ref] = mx.substitute(views[ref][0], _hole(views[ref][0]), inner)
                merged.update({r: ref for _, _, r in g if r != ref})
                terms.append(ref)
            elif not any(k == i for g in groups.values() for i, _, _ in g):
                terms.append(t)
        table[n] = mx.add(*terms)
    if not table:
        return m, tuple(wheres)
    m = mx.substitute_all(m, table)
    out = []
    for w in wheres:
        if isinstance(w.lhs, mx.Ref) and w.lhs in merged:
            rhs = merged[w.lhs]
            if isinstance(rhs, mx.Ref):  # (a temporary merged into another: gone)
                continue
            out.append(Where(w.lhs, rhs))
        else:
            out.append(w)
    return m, tuple(out)


def _elementwise_views(m: mx.M, wheres: Sequence[Where],
                       views: Mapping[mx.Ref, tuple[mx.M, mx.M]], reads: Counter[mx.Ref]
                       ) -> tuple[mx.M, tuple[Where, ...]] | None:
    """``m`` with its largest elementwise expression of temporaries that are one view
    (reshape, permute) of tensors, read nowhere else, written as one temporary of that view
    of the expression: a view moves elements and an elementwise op acts on each, so they
    commute (pixel_shuffle_index_precedence's ∂L/∂Xs = 2 t1 ⊙ (t2 − t1), t1 and t2 the
    same view of Y and P, is 2 t1, where t1 = reshape(permute(reshape(Y ⊙ (P − Y), …)))).
    A number that scales the whole stays outside; None when there is no such expression."""
    def key(r: mx.Ref) -> tuple[Any, ...]:
        return (views[r][0], r.batch, r.shape)

    def refs(x: mx.M) -> list[mx.Ref] | None:  # its views, if it is elementwise in them
        if isinstance(x, mx.Const) and x.shape == ():
            return []
        if isinstance(x, mx.Ref):
            return [x] if x in views and not x.at and not x.missing else None
        if not isinstance(x, (mx.Add, mx.Hadamard, mx.Scale, mx.Pow, mx.Fn)) or \
                isinstance(x, mx.Scale) and x.coeff.shape != () or \
                isinstance(x, mx.Fn) and any(not isinstance(a, mx.M) and
                                             not isinstance(a, (int, float)) for a in x.rest):
            return None
        out: list[mx.Ref] = []
        for c in x.children():
            got = refs(c)
            if got is None:
                return None
            out += got
        return out
    for n in mx.walk(m):
        body = n.x if isinstance(n, mx.Scale) and isinstance(n.coeff, mx.Const) else n
        if isinstance(body, mx.Ref):
            continue
        got = refs(body)
        if not got:
            continue
        own = Counter(got)
        if len({key(r) for r in own}) != 1 or len(own) < 2 or \
                any(reads[r] != k for r, k in own.items()):
            continue
        ref = min(own, key=lambda r: (len(r.name), r.name))
        inner = mx.substitute_all(body, {r: views[r][1] for r in own})
        rhs = mx.substitute(views[ref][0], _hole(views[ref][0]), inner)
        m = mx.substitute_all(m, {body: ref})
        out = tuple(Where(w.lhs, rhs) if w.lhs == ref else w for w in wheres
                    if not (isinstance(w.lhs, mx.Ref) and w.lhs in own and w.lhs != ref))
        return m, out
    return None


def _hole(skeleton: mx.M) -> mx.Ref:
    return next(r for r in mx.leaves(skeleton) if r.name == "·view")


def upstream_as_printed(m: mx.M, done: Mapping[str, mx.M],
                        simplified: Callable[[mx.M], mx.M]) -> mx.M:
    """``m`` with a transposed sum whose transpose, pushed into its terms, is an upstream
    adjoint's closed form (up to the order of the terms) written as that form prints:
    ∂L/∂S = −S⁻¹ A ∂L/∂K S⁻¹ read −S⁻¹ A (2 z (K z − x)ᵀ − A)ᵀ S⁻¹ beside ∂L/∂K = 2 (K z −
    x) zᵀ − Aᵀ (mx.transpose keeps a sum whole when pushing in removes no transpose); the
    reader finds the line above in it, −S⁻¹ A (2 (K z − x) zᵀ − Aᵀ) S⁻¹.  The pushed sum is
    compared ``simplified`` (P Hmᵀ of a symmetric P, not Pᵀ Hmᵀ), as the forms in ``done``.
    Only a form read once: read again (either way round, or its terms inside a larger sum)
    it is a repeated part, which :func:`named_parts` names once as it stands."""
    memo: dict[mx.M, mx.M] = {}
    forms = {unordered(f, memo): f for f in done.values() if isinstance(f, mx.Add)}
    if not forms:
        return m
    # the form -> the sums read transposed whole that are it
    found: dict[mx.M, list[mx.Add]] = {}
    for n in mx.walk(m):
        if isinstance(n, mx.Transpose) and isinstance(n.x, mx.Add):
            key = unordered(simplified(mx.push_transpose(n.x)), memo)
            if key in forms:
                found.setdefault(key, []).append(n.x)
    table: dict[mx.M, mx.M] = {}
    for key, hits in found.items():
        ways = [{unordered(t, memo) for t in a.terms} for a in (forms[key], hits[0])]
        again = [a for a in mx.walk(m) if isinstance(a, mx.Add) and a not in hits and
                 any(w <= {unordered(t, memo) for t in a.terms} for w in ways)]
        if len(hits) == 1 and not again:
            table[mx.Transpose(hits[0], tuple(reversed(hits[0].shape)))] = forms[key]
    return mx.substitute_all(m, table) if table else m


def _reassociated(m: mx.M) -> mx.M:
    """``m`` with each product of matrices grouped from the left: one tree for A (B C) and
    (A B) C."""
    kids = [_reassociated(c) for c in m.children()]
    if isinstance(m, mx.MatMul):
        factors = [f for k in kids for f in _matmul_factors(k)]
        out = factors[0]
        for f in factors[1:]:
            out = mx.MatMul(out, f, (out.shape[0], f.shape[-1]))
        return out
    return rebuild(m, kids) if kids else m


def _matmul_factors(m: mx.M) -> list[mx.M]:
    return _matmul_factors(m.a) + _matmul_factors(m.b) if isinstance(m, mx.MatMul) else [m]


def held_sums(m: mx.M, forms: Sequence[mx.M]) -> tuple[mx.M, dict[mx.M, mx.M]]:
    """``m`` with each sum the forward ``forms`` write (a one-line autoencoder's residual
    X − X W Wᵀ, either way round) that ``m`` reads as some terms of a longer sum that also
    reads it whole in another term (:func:`_within_another`) held as one opaque leaf, and the table that writes the leaves back: the simplifier
    sees a repeated part, not terms to factor apart (2 (X − X W Wᵀ − (X − X W Wᵀ) W Wᵀ)
    became 2 (X + (−2 X + X W Wᵀ) W Wᵀ), where the line split in two reads 2 (R − R W Wᵀ)),
    and :func:`named_parts` names it once, t1 − t1 W Wᵀ."""
    memo: dict[mx.M, mx.M] = {}
    sums = list(dict.fromkeys(n for n in mx.walk(m) if isinstance(n, mx.Add)))
    counts = _term_counts(sums, memo)
    within = [s for s in sums if len(s.shape) == 2 and 1 not in s.shape and
              _within_another(s, counts, memo) and _printed_size(s) >= SHARED_MIN]
    if not within:  # (most forms: the forward forms are not walked)
        return m, {}

    def key(x: mx.M) -> mx.M:
        return unordered(_reassociated(x), memo)
    written = {key(y) for f in forms for n in mx.walk(f)
               if isinstance(n, mx.Add) and len(n.shape) == 2 and 1 not in n.shape
               for y in (n, transpose_deep(n))}
    back: dict[mx.M, mx.M] = {}
    table: dict[mx.M, mx.M] = {}
    for s in within:
        if s in table or key(s) not in written or \
                any(n in table for n in mx.walk(s) if n is not s):
            continue
        ref = mx.Ref(f"·held{len(back) + 1}", RefKind.TENSOR, s.shape)
        own, turned = key(s), key(transpose_deep(s))
        table.update({n: ref if key(n) == own else mx.transpose(ref) for n in sums
                      if key(n) in (own, turned)})
        table.update(_within_sums(s, ref, (m,), memo, table))
        back[ref] = s
    if not back:
        return m, {}
    return mx.substitute_all(m, table), back


def _term_counts(sums: Sequence[mx.M], memo: dict[mx.M, mx.M]
                 ) -> list[tuple[Counter[mx.M], tuple[mx.M, ...]]]:
    """Each sum's terms up to their order, and its terms (:func:`_within_another`)."""
    return [(Counter(unordered(t, memo) for t in n.terms), n.terms) for n in sums
            if isinstance(n, mx.Add)]


def _within_another(s: mx.Add, counts: Sequence[tuple[Counter[mx.M], tuple[mx.M, ...]]],
                    memo: dict[mx.M, mx.M]) -> bool:
    """Whether a longer sum (of :func:`_term_counts`) holds the terms of ``s`` and reads
    ``s`` whole in another of its terms: t1 − t1 W Wᵀ, of t1 = X − X W Wᵀ, written out."""
    want = Counter(unordered(t, memo) for t in s.terms)
    whole = unordered(s, memo)
    return any(c.total() > want.total() and c & want == want and
               any(unordered(n, memo) == whole for t in terms
                   if unordered(t, memo) not in want for n in mx.walk(t))
               for c, terms in counts)
