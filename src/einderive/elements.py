"""A contribution's form as the element of a batch that another contribution is read by.

A tensor used twice adds its contributions' forms (derivation._add_forms).  When one is read
element by element (``matrix.Each``: ∂L/∂h_b = U colsum(∂L/∂E1_b)) and another is a whole
tensor (c, of ∂L/∂h = … + c), the sum has a form only if the whole one is written as the
same element (c_b): its subscript would otherwise stand free in a whole line.  That is
exact where the whole form is a tensor of the result's shape (a name, read at the element)
or is built elementwise of such tensors and scalars, and where it is already a batched form
of that batch (∂L/∂E1 Wᵀ, each element's matrix: ∂L/∂E1_b Wᵀ).  Anything else (a product,
a reduction, a broadcast of a smaller tensor) is left alone: no form, the index form exact.
"""

from __future__ import annotations

from . import matrix as mx
from .kinds import RefKind
from .recognize import math_shape


def element_of(m: mx.M, each: mx.Each) -> mx.M | None:
    """``m`` (a contribution of the tensor ``each`` is a form of) as the element ``each.x``
    is a form of, or None when it is no such element."""
    if isinstance(m, mx.Each):
        same = (m.dims, m.names, m.at, m.spec, m.shape) == \
            (each.dims, each.names, each.at, each.spec, each.shape)
        return m.x if same else None
    if mx.batch_of(m):
        return m if _batched_element(m, each) else None
    out = _elementwise(m, each)
    return out if out is not None and out.shape == each.x.shape else None


def _batched_element(m: mx.M, each: mx.Each) -> bool:
    """A batched form (NumPy's reading: the leading axes a batch of matrices) of the batch
    ``each`` reads element by element, leading: it is each element's form as it stands."""
    leading = each.at == tuple(range(len(each.dims)))
    return leading and mx.batch_of(m) == tuple(each.dims) and m.shape == each.x.shape and \
        len(each.spec) == len(each.dims) + 2 and \
        not any(mx.whole_batched(n) for n in mx.walk(m))  # (slice(X, :, 1:T − 1) is whole)


def _elementwise(m: mx.M, each: mx.Each) -> mx.M | None:
    """A whole form built elementwise from tensors of ``each``'s shape and scalars, with
    every tensor read at the element."""
    if m.is_scalar and not mx.leaves(m):
        return m  # a constant: the same for every element
    if isinstance(m, mx.Ref):
        return _element_ref(m, each)
    if isinstance(m, mx.Scale) and m.coeff.is_scalar and not mx.batch_of(m.coeff):
        x = _elementwise(m.x, each)
        return None if x is None else mx.scale(m.coeff, x)
    if isinstance(m, mx.Pow):
        x = _elementwise(m.x, each)
        return None if x is None else mx.power(x, m.exp)
    if isinstance(m, (mx.Add, mx.Hadamard)):
        parts = [_elementwise(p, each) for p in m.children()]
        if any(p is None or p.shape not in (each.x.shape, ()) for p in parts):
            return None
        kept = [p for p in parts if p is not None]
        return mx.add(*kept) if isinstance(m, mx.Add) else mx.hadamard(*kept)
    if isinstance(m, mx.Fn) and all(r.is_scalar and not mx.leaves(r) for r in m.rest):
        x = _elementwise(m.x, each)
        return None if x is None else mx.fn(m.name, x, *m.rest)
    return None


def _element_ref(m: mx.Ref, each: mx.Each) -> mx.Ref | None:
    """The whole tensor ``m`` of ``each``'s spec shape read at the element (c_b of c: [B, D],
    a column), as the reader reads an element (recognize._Reader._element)."""
    if m.batch or m.kind == RefKind.ANON or m.display is not None or \
            tuple(m.shape) != math_shape(tuple(each.spec)) or 1 in each.spec:
        return None  # (an anonymous intermediate prints its form: no name to subscript)
    rest = tuple(d for a, d in enumerate(each.spec) if a not in each.at)
    leading = each.at == tuple(range(len(each.dims)))
    return mx.Ref(m.name, m.kind, math_shape(rest), m.src, None, tuple(each.dims),
                  () if leading else tuple(each.at))
